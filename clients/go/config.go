package aigw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// SupportedVersion is the aigw-client.json version this client reads.
const SupportedVersion = 1

// Route is one provider route of an alias, in fallback order.
type Route struct {
	Provider  string
	API       string
	BaseURL   string
	Model     string
	Slot      string
	KeyFile   string // absolute, or relative to the process's folder when key_dir is
	Timeout   float64
	Retries   int
	Cooldown  float64
	Extra     map[string]any
	AWSRegion string
	Weight    *int   // share of first attempts (0-100); nil: a fallback only
	Price     *Price // the model's price (nil: unpriced, so no cost is recorded)

	extraJSON []byte // Extra, encoded once (keys sorted): compared across reloads
	modelJSON []byte // Model as a JSON string, written into each request body
}

// Wire is the route's wire API, nil when this client does not know it.
func (r *Route) Wire() *Wire { return wires[r.API] }

// Identity is what makes two routes the same route across config versions.
func (r *Route) Identity() string {
	return r.Provider + "\x00" + r.Slot + "\x00" + r.API + "\x00" + r.Model + "\x00" + r.BaseURL
}

func (r *Route) same(o *Route) bool {
	eq := func(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	return r.Identity() == o.Identity() && r.KeyFile == o.KeyFile && r.Timeout == o.Timeout &&
		r.Retries == o.Retries && r.Cooldown == o.Cooldown && r.AWSRegion == o.AWSRegion &&
		eq(r.Weight, o.Weight) && bytes.Equal(r.extraJSON, o.extraJSON) && samePrice(r.Price, o.Price)
}

// Config is a service's routes per model alias, with key files resolved to paths.
// It is never changed once parsed.
type Config struct {
	Service       string
	Environment   string
	KeyDir        string
	Aliases       map[string][]*Route
	Families      map[string]string
	Order         []string // alias names as the file lists them
	Path          string   // the file it was read from ("" when built in memory)
	Revision      string
	CatalogCommit string
	Acks          map[string]any // the file's `acks` block, nil when absent
	sha           [32]byte
}

// ConfigError says why a config cannot be used: "<file>: <field>: <reason>".
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

func cfgErr(format string, args ...any) error { return &ConfigError{fmt.Sprintf(format, args...)} }

func at(where, name string) string {
	if where == "" {
		return name
	}
	return where + "." + name
}

type obj = map[string]any

func get(o any, name, kind, where string) (any, error) {
	m, ok := o.(obj)
	if !ok {
		return nil, cfgErr("%s: missing", at(where, name))
	}
	v, ok := m[name]
	if !ok {
		return nil, cfgErr("%s: missing", at(where, name))
	}
	good := false
	switch kind {
	case "str":
		_, good = v.(string)
	case "dict":
		_, good = v.(obj)
	case "list":
		_, good = v.([]any)
	case "int":
		if n, isNum := v.(json.Number); isNum {
			_, err := strconv.ParseInt(string(n), 10, 64)
			good = err == nil
		}
	case "number":
		_, good = v.(json.Number)
	}
	if !good {
		return nil, cfgErr("%s: expected %s", at(where, name), kind)
	}
	return v, nil
}

func getStr(o any, name, where string) (string, error) {
	v, err := get(o, name, "str", where)
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func getNum(o any, name, kind, where string) (float64, error) {
	v, err := get(o, name, kind, where)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(string(v.(json.Number)), 64)
}

func parseRoute(raw any, where, keyDir string) (*Route, error) {
	r := &Route{}
	var err error
	if r.KeyFile, err = getStr(raw, "key_file", where); err != nil {
		return nil, err
	}
	if r.API, err = getStr(raw, "api", where); err != nil {
		return nil, err
	}
	wire := wires[r.API]
	m, _ := raw.(obj)
	extra, err := get(raw, "extra", "dict", where)
	if err != nil {
		return nil, err
	}
	r.Extra = map[string]any{}
	for k, v := range extra.(obj) {
		r.Extra[k] = v
	}
	region, hasRegion := m["aws_region"]
	if wire != nil && wire.Bedrock() && (region == nil || region == "") {
		// Configs rendered before aws_region existed kept LiteLLM's name in extra.
		region, hasRegion = r.Extra["aws_region_name"], true
		delete(r.Extra, "aws_region_name")
	}
	if hasRegion && region != nil {
		s, ok := region.(string)
		if !ok {
			return nil, cfgErr("%s.aws_region: expected str", where)
		}
		r.AWSRegion = s
	}
	switch base := m["base_url"]; {
	case base == nil && wire != nil && wire.Bedrock():
		if r.AWSRegion == "" {
			return nil, cfgErr("%s.aws_region: missing (a Bedrock route with no base_url "+
				"needs its AWS region)", where)
		}
		r.BaseURL = BedrockBaseURL(r.AWSRegion)
	case base == nil && wire == nil:
		r.BaseURL = "" // never called: the route is skipped as unsupported
	default:
		if r.BaseURL, err = getStr(raw, "base_url", where); err != nil {
			return nil, err
		}
	}
	r.BaseURL = strings.TrimRight(r.BaseURL, "/")
	if w, ok := m["weight"]; ok && w != nil {
		n, isNum := w.(json.Number)
		i, perr := strconv.Atoi(string(n))
		if !isNum || perr != nil || i < 0 || i > 100 {
			return nil, cfgErr("%s.weight: expected a whole number 0-100 or null", where)
		}
		r.Weight = &i
	}
	r.Price = priceFromJSON(m["price"])
	if r.Provider, err = getStr(raw, "provider", where); err != nil {
		return nil, err
	}
	if r.Model, err = getStr(raw, "model", where); err != nil {
		return nil, err
	}
	if r.Slot, err = getStr(raw, "slot", where); err != nil {
		return nil, err
	}
	if r.Timeout, err = getNum(raw, "timeout", "number", where); err != nil {
		return nil, err
	}
	retries, err := getNum(raw, "retries", "int", where)
	if err != nil {
		return nil, err
	}
	r.Retries = int(retries)
	if r.Cooldown, err = getNum(raw, "cooldown", "number", where); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(r.KeyFile) {
		r.KeyFile = filepath.Join(keyDir, r.KeyFile)
	}
	r.extraJSON, _ = json.Marshal(r.Extra)
	r.modelJSON = mustJSON(r.Model)
	return r, nil
}

// ResolveKeyDir is where key files are, for a config whose folder is baseDir.
//
// A relative key_dir is relative to the rendered folder; the agent writes the live
// copy into key_dir itself, so a config whose folder already ends with key_dir
// finds its keys beside it.
func ResolveKeyDir(keyDir, baseDir string) string {
	if filepath.IsAbs(keyDir) {
		return keyDir
	}
	kd := strings.Split(filepath.Clean(keyDir), string(filepath.Separator))
	bd := strings.Split(filepath.Clean(baseDir), string(filepath.Separator))
	if n := len(kd); keyDir != "" && n <= len(bd) {
		match := true
		for i := range kd {
			if bd[len(bd)-n+i] != kd[i] {
				match = false
				break
			}
		}
		if match {
			return baseDir
		}
	}
	return filepath.Join(baseDir, keyDir)
}
