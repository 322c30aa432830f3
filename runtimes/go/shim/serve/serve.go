// Package serve is Kumo's runtime shim for Go: the runtime protocol of DESIGN.md over HTTP/1.1 on a
// unix socket, around a function's http.Handler. kumo-go-build copies it into a function's own
// module (Kumo's `Handle` and Knative's shapes); Kumo's github.com/aws/aws-lambda-go imports it
// (Lambda's `lambda.Start`). Standard library only.
package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var started = time.Now()

// Function is what Main serves: a handler plus the optional lifecycle hooks of instanced functions.
type Function struct {
	Handler http.Handler
	// Start runs once before the socket answers; an error stops the process (the deploy's load check
	// and the pool see a function that does not start, with the error in its log).
	Start func(ctx context.Context) error
	// Stop runs on SIGTERM, before the process exits.
	Stop func(ctx context.Context) error
	// Health answers /healthz: nil is ready, an error is 503 with its message.
	Health func(ctx context.Context) error
}

// active is the logger of the running shim, for Fail.
var active *logger

// recorder notes whether the handler started its response, so a panic after that is not answered twice.
type recorder struct {
	http.ResponseWriter
	wrote bool
}

// WriteHeader refuses a status that is not an answer before anything is written: the panic becomes
// the invocation's FN_004. 101 and statuses outside 100-599 would reach the caller as the final
// status (net/http panics on some of them itself, after the head may be half-written); 1xx other
// than 101 are interim responses net/http sends ahead of the real one, as for 103 Early Hints.
func (r *recorder) WriteHeader(status int) {
	if status == http.StatusSwitchingProtocols || status < 100 || status > 599 {
		panic(fmt.Sprintf("status %d is not a response status: it must be an integer from 200 to 599", status))
	}
	if status >= 200 {
		r.wrote = true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		r.wrote = true
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(value)
}

// Fail answers an invocation as a handler error (500, kumo-error FN_004) and logs it; extra fields
// (a Lambda error's errorType) join the body.
func Fail(w http.ResponseWriter, r *http.Request, message string, extra map[string]any) {
	if active != nil {
		active.emit("error", r.Header.Get("kumo-invocation-id"), "handler failed: "+message, nil)
	}
	body := map[string]any{"code": "FN_004", "message": message}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("kumo-error", "FN_004")
	writeJSON(w, 500, body)
}

func invoke(l *logger, handler http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("kumo-invocation-id")
		l.track(id, 1)
		defer func() {
			for _, p := range l.pipes {
				p.sync() // lines the handler printed are tagged before the id is dropped
			}
			l.track(id, -1)
		}()
		r.URL.Path = "/" + strings.TrimLeft(strings.TrimPrefix(r.URL.Path, "/invoke"), "/")
		r.URL.RawPath = ""
		r.RequestURI = r.URL.RequestURI()
		if ms, err := strconv.ParseInt(r.Header.Get("kumo-deadline-ms"), 10, 64); err == nil && ms > 0 {
			ctx, cancel := context.WithDeadline(r.Context(), time.UnixMilli(ms))
			defer cancel()
			r = r.WithContext(ctx)
		}
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				stack := string(debug.Stack())
				message := fmt.Sprint(p)
				l.emit("error", id, "handler panicked: "+message+"\n"+stack, nil)
				if rec.wrote {
					panic(http.ErrAbortHandler)
				}
				w.Header().Set("kumo-error", "FN_004")
				writeJSON(w, 500, map[string]string{"code": "FN_004", "message": message, "stack": stack})
			}
		}()
		handler.ServeHTTP(rec, r)
	}
}

func listen(path string) (net.Listener, error) {
	// A stem-cell launcher that exec'd this binary hands over its listening socket.
	if fd, err := strconv.Atoi(os.Getenv("KUMO_LISTEN_FD")); err == nil {
		os.Unsetenv("KUMO_LISTEN_FD")
		return net.FileListener(os.NewFile(uintptr(fd), "kumo-listener"))
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err == nil {
		os.Chmod(path, 0o666)
	}
	return ln, err
}

// Main serves fn on the runtime socket until SIGTERM; it does not return.
func Main(fn Function) {
	l := &logger{out: os.Stdout, inflight: map[string]int{}}
	active = l
	l.capture(&os.Stdout, "info", false)
	l.capture(&os.Stderr, "error", false)
	// The log package has no levels: its lines are info unless slog's default handler names one.
	logOut := os.Stderr
	log.SetOutput(l.capture(&logOut, "info", true))
	log.SetFlags(0)

	path := os.Getenv("KUMO_SOCKET")
	if path == "" {
		path = "/run/kumo/rt.sock"
	}
	ln, err := listen(path)
	if err != nil {
		l.emit("error", "", "cannot listen on "+path+": "+err.Error(), nil)
		os.Exit(1)
	}
	if fn.Start != nil {
		if err := fn.Start(context.Background()); err != nil {
			l.emit("error", "", "the function's Start failed: "+err.Error(), nil)
			os.Exit(1)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if fn.Health != nil {
			if err := fn.Health(r.Context()); err != nil {
				writeJSON(w, 503, map[string]string{"state": "not-ready", "runtime": "go", "message": err.Error()})
				return
			}
		}
		writeJSON(w, 200, map[string]string{"state": "ready", "runtime": "go"})
	})
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 409, map[string]string{"code": "FN_006", "message": "already initialized (state ready)"})
	})
	mux.HandleFunc("/invoke", invoke(l, fn.Handler))
	mux.HandleFunc("/invoke/", invoke(l, fn.Handler))
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		if fn.Stop != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := fn.Stop(ctx); err != nil {
				l.emit("error", "", "the function's Stop failed: "+err.Error(), nil)
			}
			cancel()
		}
		for _, p := range l.pipes {
			p.sync() // what Stop printed is logged before the process ends
		}
		os.Remove(path)
		os.Exit(0)
	}()
	readyMs := float64(time.Since(started).Microseconds()) / 1000
	l.emit("info", "", "shim ready", map[string]any{"runtime": "go", "readyMs": readyMs, "state": "ready"})
	server.Serve(ln)
}
