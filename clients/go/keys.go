package aigw

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Fingerprint is the public fingerprint of a key: the first 12 hex digits of its sha256.
func Fingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:12]
}

// credential is what one key file holds. Its String never shows a key value.
type credential struct {
	token       string // the key ("token" secrets)
	bearer      string // "Bearer " + token, built once
	awsKeyID    string
	awsSecret   string
	awsSession  string
	fingerprint string
}

func (c *credential) String() string { return "credential(" + c.fingerprint + ")" }

// GoString hides the key from %#v as well.
func (c *credential) GoString() string { return c.String() }

func parseToken(text string) *credential {
	key := strings.TrimSpace(text)
	if key == "" {
		return nil
	}
	return &credential{token: key, bearer: "Bearer " + key, fingerprint: Fingerprint(key)}
}

// parseAWSCredentials reads the [default] (or first) profile of an AWS credentials file.
func parseAWSCredentials(text string) *credential {
	values := map[string]string{}
	inSection := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			if inSection && len(values) > 0 {
				break // the first profile wins
			}
			inSection = true
			continue
		}
		if name, value, ok := strings.Cut(line, "="); ok {
			values[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
		}
	}
	id, secret := values["aws_access_key_id"], values["aws_secret_access_key"]
	if id == "" || secret == "" {
		return nil
	}
	return &credential{awsKeyID: id, awsSecret: secret, awsSession: values["aws_session_token"],
		fingerprint: Fingerprint(secret)}
}

// awsKeyParts: the files holding one field each of an AWS slot keyed at keyFile
// (a Kubernetes CSI volume mounts it so; aigw.names.aws_key_parts).
func awsKeyParts(keyFile string) [][2]string {
	return [][2]string{{keyFile + ".id", "aws_access_key_id"},
		{keyFile + ".secret", "aws_secret_access_key"}}
}

// keyFile is the current credential in one file, re-read when the file changes.
type keyFile struct {
	path     string
	interval time.Duration
	parse    func(string) *credential
	parts    [][2]string

	current   atomic.Pointer[credential]
	nextCheck atomic.Int64 // unix nanos (monotonic enough: only compared with now)
	mu        sync.Mutex
	sig       string
}

func newKeyFile(path string, interval time.Duration, aws bool) *keyFile {
	kf := &keyFile{path: path, interval: interval, parse: parseToken}
	if aws {
		kf.parse, kf.parts = parseAWSCredentials, awsKeyParts(path)
	}
	return kf
}

// get is the credential now (nil when the file is missing or empty); stats the
// file at most every interval.
func (k *keyFile) get() *credential {
	if nowNanos() >= k.nextCheck.Load() {
		k.refresh(false)
	}
	return k.current.Load()
}

// reload re-reads the file now, even if it looks unchanged (after a 401/403).
func (k *keyFile) reload() *credential {
	k.refresh(true)
	return k.current.Load()
}

func (k *keyFile) markDirty() { k.nextCheck.Store(0) }

func (k *keyFile) refresh(force bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !force && nowNanos() < k.nextCheck.Load() {
		return // another goroutine refreshed while we waited
	}
	k.read(force)
	// Only now: other goroutines keep using the previous key meanwhile.
	k.nextCheck.Store(nowNanos() + int64(k.interval))
}

func statSig(paths []string) (string, bool) {
	var b strings.Builder
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return "", false
		}
		var ino, dev uint64
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			ino, dev = sys.Ino, uint64(sys.Dev)
		}
		b.WriteString(p)
		b.WriteString(strings.Join([]string{"", u(dev), u(ino), u(uint64(st.ModTime().UnixNano())),
			u(uint64(st.Size()))}, ":"))
	}
	return b.String(), true
}

func (k *keyFile) read(force bool) {
	files := []string{k.path}
	sig, ok := statSig(files)
	if !ok && len(k.parts) > 0 {
		files = []string{k.parts[0][0], k.parts[1][0]}
		sig, ok = statSig(files)
	}
	old := k.current.Load()
	if !ok {
		if k.sig != "" || old != nil {
			slog.Warn("aigw: key file is missing", "path", k.path)
		}
		k.sig = ""
		k.current.Store(nil)
		return
	}
	if sig == k.sig && !force {
		return
	}
	var text string
	if len(files) == 1 {
		data, err := os.ReadFile(k.path)
		if err != nil {
			slog.Warn("aigw: key file is unreadable", "path", k.path)
			k.sig = ""
			k.current.Store(nil)
			return
		}
		text = string(data)
	} else { // one field per file: as the credentials file the agent would write
		var b strings.Builder
		b.WriteString("[default]\n")
		for _, part := range k.parts {
			data, err := os.ReadFile(part[0])
			if err != nil {
				slog.Warn("aigw: key file is unreadable", "path", part[0])
				k.sig = ""
				k.current.Store(nil)
				return
			}
			b.WriteString(part[1] + " = " + strings.TrimSpace(string(data)) + "\n")
		}
		text = b.String()
	}
	k.sig = sig
	cur := k.parse(text)
	k.current.Store(cur)
	if fp(cur) != fp(old) {
		slog.Info("aigw: key file changed", "path", k.path, "fingerprint", fp(cur))
	}
}

func fp(c *credential) string {
	if c == nil {
		return ""
	}
	return c.fingerprint
}

var processStart = time.Now()

// nowNanos is a monotonic clock in nanoseconds.
func nowNanos() int64 { return int64(time.Since(processStart)) + 1 }

func u(n uint64) string { return strconv.FormatUint(n, 10) }
