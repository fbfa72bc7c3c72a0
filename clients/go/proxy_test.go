package aigw_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"

	aigw "github.com/aigw-dev/aigw/clients/go"
)

const modulePath = "github.com/aigw-dev/aigw/clients/go"

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// `go get` of the module at a tag, through a file:// GOPROXY built from this
// repository the way the module proxy builds it: a clone of the repository is
// tagged clients/go/v0.1.0 and golang.org/x/mod/zip makes the module zip of the
// clients/go folder at that tag. A fresh module then gets it (every other module
// comes from the local module cache, no network) and runs a program that uses it.
func TestGoGetFromATaggedRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module proxy and a program")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	tmp := t.TempDir()
	t.Cleanup(func() { // the module cache's files are read-only
		exec.Command("chmod", "-R", "u+w", filepath.Join(tmp, "modcache")).Run()
	})
	env := append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_AUTHOR_NAME=t",
		"GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	repo := filepath.Join(tmp, "repo")
	run(t, tmp, env, "git", "clone", "--quiet", "--shared", "--no-checkout", root, repo)
	const version, tag = "v0.1.0", "clients/go/v0.1.0"
	run(t, repo, env, "git", "tag", tag, "HEAD")

	dir := filepath.Join(tmp, "proxy", modulePath, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	if err := zip.CreateFromVCS(f, module.Version{Path: modulePath, Version: version}, repo, tag,
		"clients/go"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	gomod := run(t, repo, env, "git", "show", tag+":clients/go/go.mod")
	info, _ := json.Marshal(map[string]string{"Version": version, "Time": time.Now().UTC().Format(time.RFC3339)})
	for name, text := range map[string]string{"list": version + "\n", version + ".mod": gomod,
		version + ".info": string(info)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cache := strings.TrimSpace(run(t, ".", os.Environ(), "go", "env", "GOMODCACHE"))
	consumer := filepath.Join(tmp, "consumer")
	os.MkdirAll(consumer, 0o755)
	os.WriteFile(filepath.Join(consumer, "go.mod"), []byte("module example.com/consumer\n\ngo 1.26.0\n"), 0o644)
	os.WriteFile(filepath.Join(consumer, "main.go"), []byte(`package main

import (
	"fmt"

	aigw "`+modulePath+`"
)

func main() {
	_, err := aigw.FromFile("/nonexistent/aigw-client.json", aigw.Options{})
	fmt.Println(aigw.Fingerprint("sk-test"), aigw.SDKBaseURL, err != nil)
}
`), 0o644)
	goenv := append(os.Environ(), "GOMODCACHE="+filepath.Join(tmp, "modcache"), "GOSUMDB=off",
		"GOFLAGS=-mod=mod -buildvcs=false", "GOTOOLCHAIN=local",
		"GOPROXY=file://"+filepath.Join(tmp, "proxy")+",file://"+filepath.Join(cache, "cache", "download"))
	run(t, consumer, goenv, "go", "get", modulePath+"@"+version)
	if mod, _ := os.ReadFile(filepath.Join(consumer, "go.mod")); !strings.Contains(string(mod), modulePath+" "+version) {
		t.Fatalf("go.mod after go get:\n%s", mod)
	}
	out := run(t, consumer, goenv, "go", "run", ".")
	if want := aigw.Fingerprint("sk-test") + " http://aigw.invalid/ true"; strings.TrimSpace(out) != want {
		t.Fatalf("the consumer printed %q, want %q", out, want)
	}
}
