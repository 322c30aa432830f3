//go:build ignore

// The entry point kumo-go-build adds to a function's module as kumo_main/main.go, beside a copy of
// the serve package (runtimes/go/shim/serve, its package clause made `main`). kumo-go-build points
// the import below at the module's own path and, for a Knative instanced function (`func New()`),
// replaces the call in main with `Main(Instance(function.New()))`.
package main

import function "kumo.dev/function"

func main() {
	Main(Func(function.Handle))
}
