// kumo-go-build turns a tenant's Go module (package `function` with `func Handle(w, r)` at its root)
// into one static binary: it copies the source to a scratch dir, adds the Kumo wrapper as
// kumo_main/main.go importing the module's own path, and runs `go build` with CGO off.
//
//	kumo-go-build [-src /src] [-out /out/function]
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

const wrapperPath = "/opt/kumo/go/wrapper/main.go"

var modulePattern = regexp.MustCompile(`(?m)^module\s+"?([^"\s]+)"?`)

func main() {
	src := flag.String("src", "/src", "the function's module directory")
	out := flag.String("out", "/out/function", "where to write the binary")
	flag.Parse()
	if err := build(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "kumo-go-build:", err)
		os.Exit(1)
	}
}

func build(src, out string) error {
	work, err := os.MkdirTemp("", "kumo-go-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		return fmt.Errorf("copy source: %w", err)
	}
	goMod := filepath.Join(work, "go.mod")
	if _, err := os.Stat(goMod); os.IsNotExist(err) {
		if err := os.WriteFile(goMod, []byte("module function\n\ngo 1.23\n"), 0o644); err != nil {
			return err
		}
	}
	mod, err := os.ReadFile(goMod)
	if err != nil {
		return err
	}
	match := modulePattern.FindSubmatch(mod)
	if match == nil {
		return fmt.Errorf("go.mod has no module line")
	}
	if err := checkPackage(work); err != nil {
		return err
	}
	wrapper, err := os.ReadFile(wrapperPath)
	if err != nil {
		return err
	}
	text := strings.Replace(string(wrapper), "//go:build ignore\n", "", 1)
	text = strings.Replace(text, `"kumo.dev/function"`, fmt.Sprintf("%q", string(match[1])), 1)
	if err := os.MkdirAll(filepath.Join(work, "kumo_main"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "kumo_main", "main.go"), []byte(text), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./kumo_main")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// checkPackage fails early, with a message that says what to fix, when Handle is not where it must be.
func checkPackage(dir string) error {
	found := false
	err := fs.WalkDir(os.DirFS(dir), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && path != "." {
			return fs.SkipDir
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(dir, path))
		if err == nil && regexp.MustCompile(`(?m)^func Handle\(`).Match(data) {
			found = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("no `func Handle(w http.ResponseWriter, r *http.Request)` in the module's root package (package function)")
	}
	return nil
}
