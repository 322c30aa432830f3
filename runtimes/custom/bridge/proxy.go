package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// newHandler serves the runtime protocol on the unix socket: GET /healthz and ANY /invoke/<path>.
func newHandler(target string, probe *probe) http.Handler {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	proxy := &httputil.ReverseProxy{
		// Director (not Rewrite): the request goes on as the gateway sent it, X-Forwarded-* and
		// Forwarded headers (set by the gateway) and the query untouched; only the path loses /invoke.
		Director: func(r *http.Request) {
			r.URL.Scheme = "http"
			r.URL.Host = target
			r.URL.Path = invokePath(r.URL.Path)
			if r.URL.RawPath != "" {
				r.URL.RawPath = invokePath(r.URL.RawPath)
			}
			// The Host the client asked for, as servers behind other platforms see it.
			if host := r.Header.Get("X-Forwarded-Host"); host != "" {
				r.Host = host
			}
		},
		Transport: &http.Transport{
			// Never a proxy from the function's environment: the server is on this loopback.
			Proxy: nil,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "tcp", target)
			},
			// Bodies pass as they are: no gzip added to requests and undone on responses.
			DisableCompression:  true,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
		},
		// Streamed responses (server-sent events, chunked) reach the caller as they are written.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the invocation was cancelled (deadline or caller gone): nobody reads this
			}
			message := "the function's server on " + target + " did not answer: " + err.Error()
			if errors.Is(err, context.DeadlineExceeded) {
				message = "the function's server on " + target + " timed out"
			}
			logLine("error", "kumo-bridge: "+message, nil)
			writeError(w, http.StatusInternalServerError, "FN_004", message)
		},
	}
	// Not a ServeMux: it would clean paths (redirecting /invoke//a), and the path is the function's.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path := r.URL.Path; {
		case path == "/invoke" || strings.HasPrefix(path, "/invoke/"):
			proxy.ServeHTTP(w, r)
		case path == "/healthz" && r.Method == http.MethodGet:
			if err := probe.check(r.Context()); err != nil {
				writeError(w, http.StatusServiceUnavailable, "FN_008", err.Error())
				return
			}
			w.Header().Set("content-type", "application/json")
			w.Write([]byte(`{"state":"ready","runtime":"container"}`))
		default:
			writeError(w, http.StatusNotFound, "FN_006", "the port bridge serves GET /healthz and /invoke/<path> only")
		}
	})
}

// invokePath maps the protocol's /invoke/<path> to the server's /<path>.
func invokePath(path string) string {
	rest := strings.TrimPrefix(path, "/invoke")
	if rest == "" {
		return "/"
	}
	return rest
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("content-type", "application/json")
	w.Header().Set("kumo-error", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}
