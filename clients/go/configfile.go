package aigw

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
)

func optionalStr(m obj, name string) (string, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", cfgErr("%s: expected str", name)
	}
	return s, nil
}

// ParseConfig builds a Config from decoded JSON (numbers as json.Number);
// relative paths resolve from baseDir.
//
// Forward compatible: unknown fields are ignored, an alias of an unknown family
// is skipped (calling it gives UnknownAlias), a route of an unknown api is kept
// and skipped at call time with outcome unsupported_api.
func ParseConfig(raw any, baseDir string) (*Config, error) {
	v, err := get(raw, "version", "int", "")
	if err != nil {
		return nil, err
	}
	if n := string(v.(json.Number)); n != "1" {
		return nil, cfgErr("version: %s is not supported (this client reads version %d); "+
			"upgrade the aigw Go client", n, SupportedVersion)
	}
	kd, err := getStr(raw, "key_dir", "")
	if err != nil {
		return nil, err
	}
	c := &Config{KeyDir: ResolveKeyDir(kd, baseDir), Aliases: map[string][]*Route{},
		Families: map[string]string{}}
	aliases, err := get(raw, "aliases", "dict", "")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(aliases.(obj)))
	for name := range aliases.(obj) {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, alias := range names {
		spec := aliases.(obj)[alias]
		where := "aliases." + alias
		if f, ok := spec.(obj)["family"]; ok && f != nil && f != OpenAI && f != Anthropic {
			slog.Warn("aigw config: alias of a family this client does not know is skipped "+
				"(upgrade the aigw Go client to call it)", "alias", alias, "family", f)
			continue
		}
		rv, err := get(spec, "routes", "list", where)
		if err != nil {
			return nil, err
		}
		list := rv.([]any)
		if len(list) == 0 {
			return nil, cfgErr("%s.routes: needs at least one route", where)
		}
		routes := make([]*Route, len(list))
		for i, r := range list {
			if routes[i], err = parseRoute(r, fmt.Sprintf("%s.routes[%d]", where, i), c.KeyDir); err != nil {
				return nil, err
			}
		}
		family := aliasFamily(spec, routes)
		for i, r := range routes {
			if w := r.Wire(); w != nil && w.Family != family {
				slog.Warn("aigw config: route of another family is skipped (aigw validate rejects this)",
					"where", fmt.Sprintf("%s.routes[%d]", where, i), "api", r.API)
			}
		}
		c.Aliases[alias] = routes
		c.Families[alias] = family
		c.Order = append(c.Order, alias)
	}
	m := raw.(obj)
	if c.Service, err = getStr(raw, "service", ""); err != nil {
		return nil, err
	}
	if c.Environment, err = getStr(raw, "environment", ""); err != nil {
		return nil, err
	}
	if c.Revision, err = optionalStr(m, "revision"); err != nil {
		return nil, err
	}
	if c.CatalogCommit, err = optionalStr(m, "catalog_commit"); err != nil {
		return nil, err
	}
	if a, ok := m["acks"].(obj); ok {
		c.Acks = a
	}
	return c, nil
}

// aliasFamily is the alias's family as written, else that of its first known route.
func aliasFamily(spec any, routes []*Route) string {
	if f, ok := spec.(obj)["family"].(string); ok {
		return f
	}
	for _, r := range routes {
		if w := r.Wire(); w != nil {
			return w.Family
		}
	}
	return OpenAI
}

// ConfigFromBytes parses the bytes read from path (errors name the file).
func ConfigFromBytes(data []byte, path string) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, cfgErr("%s: not valid JSON (%v)", path, err)
	}
	if dec.More() {
		return nil, cfgErr("%s: not valid JSON (extra data after the document)", path)
	}
	c, err := ParseConfig(raw, filepath.Dir(path))
	if err != nil {
		return nil, cfgErr("%s: %v", path, err)
	}
	c.Path = path
	c.sha = sha256.Sum256(data)
	return c, nil
}

func readConfigFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, cfgErr("%s: cannot read (%v)", path, unwrapPathErr(err))
	}
	return data, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// LoadConfig reads aigw-client.json at path.
func LoadConfig(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, cfgErr("%s: %v", path, err)
	}
	data, err := readConfigFile(abs)
	if err != nil {
		return nil, err
	}
	return ConfigFromBytes(data, abs)
}
