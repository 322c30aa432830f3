// kumo-go-build turns a tenant's Go module into one static binary. It copies the source to a scratch
// dir, reads which shape the root package has, and builds it with CGO off.
//
// A package function with `func Handle(w, r)` or `func Handle(ctx, w, r)` (Kumo, Knative func
// static), or with `func New()` (Knative func instanced), gets the Kumo shim (the serve package) as
// kumo_main/, a main package that imports the module's own path. A package main calling lambda.Start
// (AWS Lambda, github.com/aws/aws-lambda-go) is built as it is, with replace directives in go.mod
// pointing that import path at Kumo's own module of it, whose lambda.Start serves the runtime protocol.
//
// Usage: kumo-go-build [-src /src] [-out /out/function]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// shimDir is where the runtime-go-build image keeps runtimes/go/shim.
const shimDir = "/opt/kumo/go"

// Accepted names the shapes in every refusal, so the message says what to write instead.
const Accepted = "Kumo accepts: package function with func Handle(w http.ResponseWriter, r *http.Request) " +
	"(Kumo, Knative func) or func Handle(ctx context.Context, w http.ResponseWriter, r *http.Request) (Knative func); " +
	"package function with func New() returning a value with that Handle method, plus optional " +
	"Start/Stop/Ready/Alive (Knative func instanced); package main whose main calls lambda.Start(handler) " +
	"of github.com/aws/aws-lambda-go (AWS Lambda)"

type shape string

const (
	shapeHandle shape = "handle"
	shapeNew    shape = "new"
	shapeLambda shape = "lambda"
)

var (
	modulePattern  = regexp.MustCompile(`(?m)^module\s+"?([^"\s]+)"?`)
	packagePattern = regexp.MustCompile(`(?m)^package\s+(\w+)`)
	handlePattern  = regexp.MustCompile(`(?m)^func Handle\(`)
	newPattern     = regexp.MustCompile(`(?m)^func New\(\)`)
	lambdaImport   = regexp.MustCompile(`"github.com/aws/aws-lambda-go/lambda"`)
	lambdaStart    = regexp.MustCompile(`\blambda\.Start(WithOptions|WithContext|Handler|HandlerFunc|HandlerWithContext)?\(`)
	lambdaRequire  = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/aws/aws-lambda-go\s+(v\S+)`)
)

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
	kind, err := detect(work)
	if err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}
	if kind == shapeLambda {
		lambdaMod := lambdaGoMod(mod)
		if err := os.WriteFile(goMod, lambdaMod, 0o644); err != nil {
			return err
		}
		vendored, err := vendorLambda(work, lambdaMod)
		if err != nil {
			return err
		}
		if !vendored {
			// The replaced modules are local directories: nothing is downloaded (GOPROXY=off).
			args = append(args, "-mod=mod")
		}
		args = append(args, ".")
	} else {
		if err := addShim(work, string(match[1]), kind); err != nil {
			return err
		}
		args = append(args, "./kumo_main")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	var output bytes.Buffer
	cmd.Stdout = os.Stdout
	cmd.Stderr = io.MultiWriter(os.Stderr, &output)
	if err := cmd.Run(); err != nil {
		if strings.Contains(output.String(), "kumo_main/main.go") {
			return errors.New("the root package's Handle or New does not have a shape Kumo accepts. " + Accepted)
		}
		return err
	}
	return nil
}

// detect reads the root package's shape from its source; a package with none fails naming them all.
func detect(dir string) (shape, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var pkg string
	var handle, instanced, lambda bool
	for _, entry := range entries {
		name := entry.Name()
		if entry.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		if m := packagePattern.FindSubmatch(data); m != nil && pkg == "" {
			pkg = string(m[1])
		}
		handle = handle || handlePattern.Match(data)
		instanced = instanced || newPattern.Match(data)
		lambda = lambda || lambdaImport.Match(data) && lambdaStart.Match(data)
	}
	switch {
	case pkg == "main" && lambda:
		return shapeLambda, nil
	case pkg == "main":
		return "", errors.New("the root package is package main but its main does not call lambda.Start of github.com/aws/aws-lambda-go. " + Accepted)
	case instanced:
		return shapeNew, nil
	case handle:
		return shapeHandle, nil
	case pkg == "":
		return "", errors.New("no Go files in the module's root directory. " + Accepted)
	}
	return "", fmt.Errorf("package %s has neither func Handle nor func New. %s", pkg, Accepted)
}

// addShim writes kumo_main/: the serve package as package main, and the entry point for the shape.
func addShim(work, modulePath string, kind shape) error {
	dir := filepath.Join(work, "kumo_main")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(shimDir, "serve", "*.go"))
	if err != nil {
		return err
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		text := packagePattern.ReplaceAllString(string(data), "package main")
		if err := os.WriteFile(filepath.Join(dir, "kumo_"+filepath.Base(file)), []byte(text), 0o644); err != nil {
			return err
		}
	}
	wrapper, err := os.ReadFile(filepath.Join(shimDir, "wrapper", "main.go"))
	if err != nil {
		return err
	}
	text := strings.Replace(string(wrapper), "//go:build ignore\n", "", 1)
	text = strings.Replace(text, `"kumo.dev/function"`, fmt.Sprintf("%q", modulePath), 1)
	if kind == shapeNew {
		text = strings.Replace(text, "Main(Func(function.Handle))", "Main(Instance(function.New()))", 1)
	}
	return os.WriteFile(filepath.Join(dir, "main.go"), []byte(text), 0o644)
}
