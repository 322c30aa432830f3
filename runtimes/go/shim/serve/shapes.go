package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// StaticHandler is a package-level Handle: Kumo's (and Knative func's static template) `Handle(w, r)`
// or Knative func's older `Handle(ctx, w, r)`.
type StaticHandler interface {
	func(http.ResponseWriter, *http.Request) | func(context.Context, http.ResponseWriter, *http.Request)
}

// Func serves a package-level Handle; its signature is checked when the function compiles.
func Func[H StaticHandler](handle H) Function {
	switch h := any(handle).(type) {
	case func(http.ResponseWriter, *http.Request):
		return Function{Handler: http.HandlerFunc(h)}
	case func(context.Context, http.ResponseWriter, *http.Request):
		return Function{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(r.Context(), w, r) })}
	}
	panic("unreachable: the type constraint admits two signatures")
}

// The methods of a Knative func instanced Go function (knative.dev/func-go/http): Handle is
// required, the lifecycle methods are optional.
type (
	handler interface {
		Handle(http.ResponseWriter, *http.Request)
	}
	ctxHandler interface {
		Handle(context.Context, http.ResponseWriter, *http.Request)
	}
	starter interface {
		Start(context.Context, map[string]string) error
	}
	stopper   interface{ Stop(context.Context) error }
	readiness interface {
		Ready(context.Context) (bool, error)
	}
	liveness interface {
		Alive(context.Context) (bool, error)
	}
)

// Instance serves the value a Knative-style `New()` returned: its Handle method answers requests,
// Start(ctx, cfg) runs before the first one with the environment as cfg, Stop(ctx) on SIGTERM, and
// Ready/Alive answer /healthz.
func Instance(instance any) Function {
	var fn Function
	switch h := instance.(type) {
	case handler:
		fn.Handler = http.HandlerFunc(h.Handle)
	case ctxHandler:
		fn.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.Handle(r.Context(), w, r) })
	default:
		fmt.Fprintf(os.Stderr, "New() returned %T, which has no method Handle(http.ResponseWriter, *http.Request)\n", instance)
		os.Exit(1)
	}
	if s, ok := instance.(starter); ok {
		fn.Start = func(ctx context.Context) error { return s.Start(ctx, environment()) }
	}
	if s, ok := instance.(stopper); ok {
		fn.Stop = s.Stop
	}
	ready, hasReady := instance.(readiness)
	alive, hasAlive := instance.(liveness)
	if hasReady || hasAlive {
		fn.Health = func(ctx context.Context) error {
			if hasAlive {
				if err := probe("Alive", alive.Alive, ctx); err != nil {
					return err
				}
			}
			if hasReady {
				return probe("Ready", ready.Ready, ctx)
			}
			return nil
		}
	}
	return fn
}

func probe(name string, check func(context.Context) (bool, error), ctx context.Context) error {
	ok, err := check(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if !ok {
		return errors.New(name + " reported false")
	}
	return nil
}

// environment is the process environment as Knative func passes it to Start.
func environment() map[string]string {
	cfg := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			cfg[k] = v
		}
	}
	return cfg
}
