// Command go_service is the lab's Go service: testing/demo_service.py in Go. It
// calls aliases in a loop through the official openai-go SDK with aigw's
// RoundTripper underneath, and appends one JSON line per request to --log in the
// demo service's format (every attempt: provider, route, outcome, key
// fingerprint, config revision, end time, ms), plus "start", "config" and "stop"
// events. Key values are never written, only fingerprints. SIGTERM stops it.
//
//	go_service --config /run/secrets/aigw/aigw-client.json [--alias chat-ab ...] --rate 17 --log svc.jsonl
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	aigw "github.com/aigw-dev/aigw/clients/go"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

type aliases []string

func (a *aliases) String() string     { return strings.Join(*a, ",") }
func (a *aliases) Set(s string) error { *a = append(*a, s); return nil }

func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

func round3(ms float64) float64 { return math.Round(ms*1000) / 1000 }

func main() {
	config := flag.String("config", "", "the live aigw-client.json")
	rate := flag.Float64("rate", 10, "requests per second")
	logPath := flag.String("log", "", "JSONL request log")
	var only aliases
	flag.Var(&only, "alias", "alias to call (repeat); default: every alias of the running config")
	flag.Parse()
	if *config == "" || *logPath == "" {
		fmt.Fprintln(os.Stderr, "go_service: --config and --log are required")
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	var mu sync.Mutex
	var tried []map[string]any
	client, err := aigw.FromFile(*config, aigw.Options{OnAttempt: func(a aigw.Attempt) {
		mu.Lock()
		defer mu.Unlock()
		tried = append(tried, map[string]any{"provider": a.Provider, "route": a.Route,
			"outcome": a.Outcome, "fp": a.KeyFingerprint, "rev": a.Revision, "t": now(),
			"ms": round3(float64(a.Latency.Microseconds()) / 1000)})
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_service:", err)
		os.Exit(2)
	}
	defer client.Close()
	oai := openai.NewClient(option.WithHTTPClient(client.HTTPClient(aigw.OpenAI)),
		option.WithBaseURL(aigw.SDKBaseURL), option.WithAPIKey(aigw.PlaceholderKey),
		option.WithMaxRetries(0))
	out, err := os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_service:", err)
		os.Exit(2)
	}
	defer out.Close()
	write := func(v map[string]any) {
		b, _ := json.Marshal(v)
		out.Write(append(b, '\n'))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	write(map[string]any{"t": now(), "event": "start", "pid": os.Getpid()})
	interval := time.Duration(float64(time.Second) / *rate)
	next := time.Now()
	var status map[string]any
	for n := 0; ctx.Err() == nil; {
		st := client.ConfigStatus()
		cur := map[string]any{"revision": client.Revision(), "status": map[string]any{
			"revision": st.Revision, "rejection": st.Rejection, "rejected": st.Rejected,
			"reloads": st.Reloads, "following": st.Following}}
		if !reflect.DeepEqual(cur, status) {
			status = cur
			write(map[string]any{"t": now(), "event": "config", "revision": cur["revision"],
				"status": cur["status"]})
		}
		list := []string(only)
		if len(list) == 0 {
			list = client.Aliases()
		}
		alias := list[n%len(list)]
		n++
		mu.Lock()
		tried = nil
		mu.Unlock()
		started, t0 := now(), time.Now()
		reply, err := oai.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: alias, Messages: []openai.ChatCompletionMessageParamUnion{
				openai.UserMessage(fmt.Sprintf("ping %d", n))}})
		mu.Lock()
		attempts := append([]map[string]any{}, tried...)
		mu.Unlock()
		line := map[string]any{"t": started, "alias": alias, "attempts": attempts}
		if err == nil && (len(attempts) == 0 || attempts[len(attempts)-1]["outcome"] != "ok") {
			err = fmt.Errorf("answered without an ok attempt") // would be a client bug
		}
		if err != nil {
			msg := err.Error()
			if len(msg) > 300 {
				msg = msg[:300]
			}
			line["ok"], line["error"] = false, msg
		} else {
			served := attempts[len(attempts)-1]
			line["ok"] = true
			line["provider"], line["route"], line["fp"], line["rev"] =
				served["provider"], served["route"], served["fp"], served["rev"]
			line["model"] = reply.Model
		}
		line["ms"] = round3(float64(time.Since(t0).Microseconds()) / 1000)
		write(line)
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		} else {
			next = time.Now()
		}
	}
	write(map[string]any{"t": now(), "event": "stop", "pid": os.Getpid()})
}
