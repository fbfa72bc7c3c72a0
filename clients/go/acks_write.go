package aigw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"
)

const (
	ackStale   = 3.0 // instances silent for ackStale * refresh are dropped from the entry
	ackFormat  = 2   // the acknowledgement document's version
	ackLogEvry = time.Minute
)

func (a *ackRecorder) run() {
	httpc := &http.Client{Timeout: 2 * time.Second}
	tick := a.interval
	if tick > time.Second {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var nextPoll time.Time
	for {
		select {
		case <-a.done:
			return
		case n := <-a.ch:
			a.mu.Lock()
			a.note(n)
			a.mu.Unlock()
			continue // drain the queue before writing
		case <-t.C:
		}
		now := time.Now()
		a.mu.Lock()
		if !now.Before(nextPoll) {
			nextPoll = now.Add(a.interval)
			a.poll(now)
		}
		var due []slotKey
		for k := range a.pending {
			if tr, ok := a.tried[k]; !ok || now.Sub(tr) >= a.interval {
				a.tried[k] = now
				due = append(due, k)
			}
		}
		a.mu.Unlock()
		for _, k := range due {
			a.flush(httpc, k)
		}
	}
}

func (a *ackRecorder) flush(httpc *http.Client, k slotKey) {
	a.mu.Lock()
	state := *a.state[k]
	w, ok := a.written[k]
	now := time.Now()
	if ok && w.state == state && now.Sub(w.at) < a.refresh {
		delete(a.pending, k)
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	if err := a.write(httpc, k, state); err != nil {
		a.once(err.Error())
		return
	}
	a.mu.Lock()
	a.written[k] = ackWritten{state, now}
	if *a.state[k] == state {
		delete(a.pending, k)
	}
	a.mu.Unlock()
}

func (a *ackRecorder) token() string {
	for _, p := range a.tokenFiles {
		if data, err := os.ReadFile(p); err == nil {
			if t := strings.TrimSpace(string(data)); t != "" {
				return t
			}
		}
	}
	return ""
}

// write merges this instance's report into the slot's document with check-and-set.
func (a *ackRecorder) write(httpc *http.Client, k slotKey, state [3]string) error {
	token := a.token()
	if token == "" {
		return fmt.Errorf("no agent token in %s; key acknowledgements wait for it",
			strings.Join(a.tokenFiles, " or "))
	}
	url := fmt.Sprintf("%s/v1/%s/data/%s/%s/%s/%s", a.address, a.mount, a.folder, k.provider,
		k.slot, a.service)
	for i := 0; i < 3; i++ { // another replica may write between our read and write
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-Vault-Token", token)
		resp, err := httpc.Do(req)
		if err != nil {
			return fmt.Errorf("cannot write key acknowledgements to %s; retrying", a.address)
		}
		var got struct {
			Data struct {
				Data     map[string]any `json:"data"`
				Metadata struct {
					Version int `json:"version"`
				} `json:"metadata"`
			} `json:"data"`
		}
		version := 0
		var doc map[string]any
		switch resp.StatusCode {
		case 404:
		case 200:
			_ = json.NewDecoder(resp.Body).Decode(&got)
			version, doc = got.Data.Metadata.Version, got.Data.Data
		default:
			resp.Body.Close()
			return fmt.Errorf("OpenBao refused a key acknowledgement (HTTP %d): check that "+
				"`aigw apply` ran for service %s", resp.StatusCode, a.service)
		}
		resp.Body.Close()
		now := float64(time.Now().UnixNano()) / 1e9
		merged := mergeAck(doc, a.instance, state[0], state[2], now, a.refresh.Seconds(), state[1])
		body := mustJSON(map[string]any{"options": map[string]any{"cas": version}, "data": merged})
		put, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		put.Header.Set("X-Vault-Token", token)
		put.Header.Set("Content-Type", "application/json")
		presp, err := httpc.Do(put)
		if err != nil {
			return fmt.Errorf("cannot write key acknowledgements to %s; retrying", a.address)
		}
		var text bytes.Buffer
		_, _ = text.ReadFrom(presp.Body)
		presp.Body.Close()
		if presp.StatusCode == 200 || presp.StatusCode == 204 {
			return nil
		}
		if presp.StatusCode == 400 && strings.Contains(text.String(), "check-and-set") {
			continue
		}
		return fmt.Errorf("OpenBao refused a key acknowledgement (HTTP %d)", presp.StatusCode)
	}
	return fmt.Errorf("key acknowledgement lost three check-and-set races")
}

func (a *ackRecorder) once(msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	kind := msg
	if i := strings.IndexByte(msg, '('); i > 0 {
		kind = msg[:i]
	}
	if t, ok := a.logged[kind]; ok && time.Since(t) < ackLogEvry {
		return
	}
	a.logged[kind] = time.Now()
	slog.Warn("aigw: " + msg)
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// liveInstances: the instances of an entry that reported recently enough to count.
func liveInstances(doc map[string]any, now float64) map[string]map[string]any {
	out := map[string]map[string]any{}
	if doc == nil {
		return out
	}
	raw, ok := doc["instances"].(map[string]any)
	if !ok {
		return out // (an entry written by hand: "" instances are dropped by merge anyway)
	}
	for name, v := range raw {
		inst, ok := v.(map[string]any)
		if !ok {
			continue
		}
		at, _ := num(inst["at"])
		refresh, ok := num(inst["refresh"])
		if !ok || refresh == 0 {
			refresh = ackRefresh.Seconds()
		}
		if now-at < ackStale*refresh {
			out[name] = inst
		}
	}
	return out
}

func agreed(instances map[string]map[string]any, name string) string {
	values := map[string]bool{}
	for _, v := range instances {
		s, _ := v[name].(string)
		values[s] = true
	}
	if len(values) == 1 {
		for s := range values {
			return s
		}
	}
	return ""
}

// mergeAck is the entry after instance me reports (as the Python client's acks.merge).
func mergeAck(doc map[string]any, me, used, revision string, now, refresh float64, loaded string) map[string]any {
	instances := liveInstances(doc, now)
	delete(instances, "")
	counters := map[string]any{}
	if mine, ok := instances[me]; ok {
		if c, ok := mine["counters"].(map[string]any); ok {
			counters = c
		}
	}
	instances[me] = map[string]any{"fingerprint": used, "used": used, "loaded": loaded,
		"revision": revision, "at": now, "refresh": refresh, "counters": counters}
	top := map[string]any{}
	if doc != nil {
		if c, ok := doc["counters"].(map[string]any); ok {
			top = c
		}
	}
	names := make([]string, 0, len(instances))
	for n := range instances {
		names = append(names, n)
	}
	sort.Strings(names)
	u := agreed(instances, "used")
	return map[string]any{"format": ackFormat, "fingerprint": u, "used": u,
		"loaded": agreed(instances, "loaded"), "revision": agreed(instances, "revision"),
		"at": now, "instances": instances, "counters": top}
}
