//go:build ignore

// Kumo runtime shim for Go: the runtime protocol of DESIGN.md over HTTP/1.1 on a unix socket, wrapped
// around `func Handle(w http.ResponseWriter, r *http.Request)` of the tenant's package `function`.
// kumo-go-build copies this file into the tenant's module (as kumo_main/main.go), replaces the import
// path below with the module's own, drops the build tag above and builds a static binary.
package main

import (
	"bufio"
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
	"sync"
	"syscall"
	"time"

	function "kumo.dev/function"
)

var started = time.Now()

// logger writes JSON log lines on the real stdout. The function's stdout/stderr and the log package
// go through pipes into it; a line is tagged with the invocation id when exactly one is in flight.
type logger struct {
	mu       sync.Mutex
	out      *os.File
	inflight map[string]int
	pipes    []*pipe
}

// pipe is one captured stream; sync() waits until the reader has seen everything written before it.
type pipe struct {
	mu  sync.Mutex
	w   *os.File
	ack chan struct{}
}

const barrier = "\x00kumo-barrier"

func (p *pipe) sync() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.WriteString(barrier + "\n"); err == nil {
		<-p.ack
	}
}

func (l *logger) emit(level, invocationID, message string, extra map[string]any) {
	line := map[string]any{"ts": time.Now().UnixMilli(), "level": level, "message": message}
	if invocationID != "" {
		line["invocationId"] = invocationID
	} else {
		line["invocationId"] = nil
	}
	for k, v := range extra {
		line[k] = v
	}
	data, _ := json.Marshal(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out.Write(append(data, '\n'))
}

func (l *logger) current() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.inflight) != 1 {
		return ""
	}
	for id := range l.inflight {
		return id
	}
	return ""
}

func (l *logger) track(id string, delta int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight[id] += delta
	if l.inflight[id] <= 0 {
		delete(l.inflight, id)
	}
}

// slogLevels are the level words log/slog's default handler starts a line with ("INFO msg k=v")
// when its output goes through the log package.
var slogLevels = map[string]string{"DEBUG": "debug", "INFO": "info", "WARN": "warn", "ERROR": "error"}

// levelOf reads a slog level word ("WARN", "ERROR+2") at the start of a log package line.
func levelOf(line, fallback string) string {
	word, _, _ := strings.Cut(line, " ")
	if i := strings.IndexAny(word, "+-"); i > 0 {
		word = word[:i]
	}
	if level, ok := slogLevels[word]; ok {
		return level
	}
	return fallback
}

// capture replaces *target with a pipe whose lines become log lines of the given level (or, with
// slogWords, the slog level a line starts with).
func (l *logger) capture(target **os.File, level string, slogWords bool) *os.File {
	r, w, err := os.Pipe()
	if err != nil {
		return *target
	}
	*target = w
	p := &pipe{w: w, ack: make(chan struct{})}
	l.pipes = append(l.pipes, p)
	go func() {
		scanner := bufio.NewScanner(r)
		scanner.Buffer(make([]byte, 64*1024), 1024*1024)
		for scanner.Scan() {
			line := scanner.Text()
			if line == barrier {
				p.ack <- struct{}{}
				continue
			}
			message := strings.TrimSuffix(line, barrier)
			lineLevel := level
			if slogWords {
				lineLevel = levelOf(message, level)
			}
			l.emit(lineLevel, l.current(), message, nil)
			if strings.HasSuffix(line, barrier) {
				p.ack <- struct{}{}
			}
		}
	}()
	return w
}

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

func invoke(l *logger) http.HandlerFunc {
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
		function.Handle(rec, r)
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

func main() {
	l := &logger{out: os.Stdout, inflight: map[string]int{}}
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
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]string{"state": "ready", "runtime": "go"})
	})
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 409, map[string]string{"code": "FN_006", "message": "already initialized (state ready)"})
	})
	mux.HandleFunc("/invoke", invoke(l))
	mux.HandleFunc("/invoke/", invoke(l))
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Remove(path)
		os.Exit(0)
	}()
	readyMs := float64(time.Since(started).Microseconds()) / 1000
	l.emit("info", "", "shim ready", map[string]any{"runtime": "go", "readyMs": readyMs, "state": "ready"})
	server.Serve(ln)
}
