package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// lambdaGoMod points github.com/aws/aws-lambda-go (any version the module requires) at Kumo's
// module of that path, and its dependency kumo.dev/shim at the shim.
func lambdaGoMod(mod []byte) []byte {
	var b strings.Builder
	b.Write(mod)
	b.WriteString("\n// Added by kumo-go-build: Kumo's aws-lambda-go serves the Kumo runtime protocol.\n")
	if !lambdaRequire.Match(mod) {
		b.WriteString("require github.com/aws/aws-lambda-go v1.0.0\n")
	}
	b.WriteString("require kumo.dev/shim v0.0.0\n")
	fmt.Fprintf(&b, "replace github.com/aws/aws-lambda-go => %s/aws-lambda-go\n", shimDir)
	fmt.Fprintf(&b, "replace kumo.dev/shim => %s\n", shimDir)
	return []byte(b.String())
}

// vendorLambda puts Kumo's aws-lambda-go and the serve package into a vendored module's vendor/ in
// place of AWS's (as `go mod vendor` would with the replace directives), so its other vendored
// dependencies still build offline. False when the module has no vendor/modules.txt.
func vendorLambda(work string, mod []byte) (bool, error) {
	listPath := filepath.Join(work, "vendor", "modules.txt")
	list, err := os.ReadFile(listPath)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ours := map[string]bool{"github.com/aws/aws-lambda-go": true, "kumo.dev/shim": true}
	var kept []string
	skipping := false
	for _, line := range strings.Split(strings.TrimRight(string(list), "\n"), "\n") {
		if strings.HasPrefix(line, "# ") {
			fields := strings.Fields(line)
			skipping = len(fields) > 1 && ours[fields[1]]
		}
		if !skipping {
			kept = append(kept, line)
		}
	}
	version := "v1.0.0"
	if m := lambdaRequire.FindSubmatch(mod); m != nil {
		version = string(m[1])
	}
	lambdaDir, shimServe := filepath.Join(shimDir, "aws-lambda-go"), filepath.Join(shimDir, "serve")
	blocks := []string{
		fmt.Sprintf("# github.com/aws/aws-lambda-go %s => %s", version, lambdaDir),
		"## explicit; go 1.23",
		"github.com/aws/aws-lambda-go/events",
		"github.com/aws/aws-lambda-go/lambda",
		"github.com/aws/aws-lambda-go/lambdacontext",
		fmt.Sprintf("# kumo.dev/shim v0.0.0 => %s", shimDir),
		"## explicit; go 1.23",
		"kumo.dev/shim/serve",
	}
	// Module blocks first, then the wildcard replacement lines that end the file.
	split := len(kept)
	for split > 0 && strings.HasPrefix(kept[split-1], "# ") && strings.Contains(kept[split-1], " => ") &&
		len(strings.Fields(kept[split-1])) == 4 {
		split--
	}
	lines := append(append(append([]string{}, kept[:split]...), blocks...), kept[split:]...)
	lines = append(lines,
		fmt.Sprintf("# github.com/aws/aws-lambda-go => %s", lambdaDir),
		fmt.Sprintf("# kumo.dev/shim => %s", shimDir))
	if err := os.WriteFile(listPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return false, err
	}
	vendor := filepath.Join(work, "vendor")
	if err := os.RemoveAll(filepath.Join(vendor, "github.com", "aws", "aws-lambda-go")); err != nil {
		return false, err
	}
	copies := map[string]string{
		filepath.Join(lambdaDir, "events"):        filepath.Join(vendor, "github.com", "aws", "aws-lambda-go", "events"),
		filepath.Join(lambdaDir, "lambda"):        filepath.Join(vendor, "github.com", "aws", "aws-lambda-go", "lambda"),
		filepath.Join(lambdaDir, "lambdacontext"): filepath.Join(vendor, "github.com", "aws", "aws-lambda-go", "lambdacontext"),
		shimServe: filepath.Join(vendor, "kumo.dev", "shim", "serve"),
	}
	for from, to := range copies {
		if err := os.MkdirAll(to, 0o755); err != nil {
			return false, err
		}
		if err := os.CopyFS(to, os.DirFS(from)); err != nil {
			return false, err
		}
	}
	return true, nil
}
