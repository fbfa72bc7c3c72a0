package aigw

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the client's log lines out of test output (AIGW_TEST_LOG=1 shows them).
func TestMain(m *testing.M) {
	if os.Getenv("AIGW_TEST_LOG") == "" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}
