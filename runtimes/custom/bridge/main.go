// kumo-bridge lets an image that serves HTTP on a TCP port (OpenFaaS of-watchdog, Knative, Cloud Run
// style) run as a Kumo custom-image function, which must speak the runtime protocol on a unix socket.
// The autoscaler mounts this static binary read-only into the container and makes it the entrypoint,
// with the image's own ENTRYPOINT+CMD after "--":
//
//	kumo-bridge -port 8080 [-health-path /ready] -- <image entrypoint and cmd...>
//
// It starts that command with PORT set, passes its stdout/stderr through (they are the function's
// logs), forwards SIGTERM and SIGINT to it and exits with its exit code. On $KUMO_SOCKET it answers
// GET /healthz once the port accepts connections (or -health-path answers 2xx) and forwards
// ANY /invoke/<path>?<query> to http://127.0.0.1:<port>/<path>?<query>, streaming both ways.
//
// Standard library only and built with CGO_ENABLED=0, so it runs in any image: no shell, no libc needed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// logLine writes one line in the shims' JSON shape (invocationId null: not an invocation's output), so
// the autoscaler records it with its level and the builder's load check can read "shim ready".
func logLine(level, message string, extra map[string]any) {
	line := map[string]any{"ts": time.Now().UnixMilli(), "level": level, "invocationId": nil, "message": message}
	for k, v := range extra {
		line[k] = v
	}
	data, _ := json.Marshal(line)
	os.Stdout.Write(append(data, '\n'))
}

func fail(code int, format string, args ...any) {
	logLine("error", "kumo-bridge: "+fmt.Sprintf(format, args...), nil)
	os.Exit(code)
}

func main() {
	port := flag.Int("port", 0, "TCP port the image's server listens on (required)")
	healthPath := flag.String("health-path", "", "HTTP path whose 2xx means ready (default: the port accepts a connection)")
	version := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *version {
		fmt.Println("kumo-bridge 1")
		return
	}
	if *port < 1 || *port > 65535 {
		fail(2, "-port must be 1-65535, got %d", *port)
	}
	command := flag.Args()
	if len(command) == 0 {
		fail(2, "the image names no ENTRYPOINT or CMD to run")
	}
	socket := os.Getenv("KUMO_SOCKET")
	if socket == "" {
		socket = "/run/kumo/rt.sock"
	}
	target := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	probe := newProbe(target, *healthPath)

	// The socket first: the autoscaler polls /healthz from the moment the container runs.
	os.Remove(socket)
	listener, err := net.Listen("unix", socket)
	if err != nil {
		fail(1, "cannot listen on %s: %v", socket, err)
	}
	os.Chmod(socket, 0o666)

	child, err := startChild(command, *port)
	if err != nil {
		fail(127, "cannot start %q: %v", command[0], err)
	}
	go func() {
		// net/http's own complaints (a malformed request) are not the function's logs: dropped.
		server := &http.Server{
			Handler:           newHandler(target, probe),
			ErrorLog:          log.New(io.Discard, "", 0),
			ReadHeaderTimeout: time.Minute,
		}
		server.Serve(listener)
	}()
	go probe.waitReady(child.done, func() {
		logLine("info", "shim ready", map[string]any{"runtime": "container", "state": "ready", "port": *port})
	})
	os.Exit(child.wait())
}
