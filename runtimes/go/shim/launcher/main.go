// The entrypoint of the generic kumo/runtime-go image (a stem cell). Go functions are compiled, so
// specialization means running the function's binary: POST /init {codeDir, handler, env} answers 200,
// then execs <codeDir>/<handler> (default "function") in place, handing over the listening socket
// (KUMO_LISTEN_FD) so no connection is refused in between. With KUMO_CODE_DIR set at start (code
// baked into the image) it execs the binary at once.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type initRequest struct {
	CodeDir string            `json:"codeDir"`
	Handler string            `json:"handler"`
	Env     map[string]string `json:"env"`
}

func logLine(level, message string, extra map[string]any) {
	line := map[string]any{"ts": time.Now().UnixMilli(), "level": level, "invocationId": nil, "message": message}
	for k, v := range extra {
		line[k] = v
	}
	data, _ := json.Marshal(line)
	os.Stdout.Write(append(data, '\n'))
}

func binaryPath(codeDir, handler string) (string, error) {
	if codeDir == "" {
		codeDir = "/var/task"
	}
	if handler == "" {
		handler = "function"
	}
	path := filepath.Join(codeDir, handler)
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("function binary: %w", err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("function binary %s is not an executable file", path)
	}
	return path, nil
}

func execFunction(path string, env map[string]string, extraEnv ...string) error {
	vars := os.Environ()
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	vars = append(vars, extraEnv...)
	return syscall.Exec(path, []string{path}, vars)
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(value)
}

func main() {
	if dir := os.Getenv("KUMO_CODE_DIR"); dir != "" {
		path, err := binaryPath(dir, os.Getenv("KUMO_HANDLER"))
		if err == nil {
			err = execFunction(path, nil)
		}
		logLine("error", "cannot start function: "+err.Error(), nil)
		os.Exit(1)
	}
	socket := os.Getenv("KUMO_SOCKET")
	if socket == "" {
		socket = "/run/kumo/rt.sock"
	}
	os.Remove(socket)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		logLine("error", "cannot listen on "+socket+": "+err.Error(), nil)
		os.Exit(1)
	}
	os.Chmod(socket, 0o666)
	listener := ln.(*net.UnixListener)
	listener.SetUnlinkOnClose(false)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]string{"state": "stem-cell", "runtime": "go"})
	})
	mux.HandleFunc("/invoke/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("kumo-error", "FN_008")
		writeJSON(w, 503, map[string]string{"code": "FN_008", "message": "not initialized"})
	})
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		var req initRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, 400, map[string]string{"code": "FN_006", "message": "init body must be JSON {codeDir, handler, env}"})
			return
		}
		path, err := binaryPath(req.CodeDir, req.Handler)
		if err != nil {
			writeJSON(w, 500, map[string]string{"code": "FN_008", "message": err.Error()})
			return
		}
		file, err := listener.File() // a dup of the socket, to survive exec
		if err == nil {
			_, _, errno := syscall.Syscall(syscall.SYS_FCNTL, file.Fd(), syscall.F_SETFD, 0)
			if errno != 0 {
				err = errno
			}
		}
		if err != nil {
			writeJSON(w, 500, map[string]string{"code": "FN_008", "message": "cannot hand over socket: " + err.Error()})
			return
		}
		// Stop accepting before answering: a connection accepted now would die with this process at exec.
		// The dup above keeps the socket open, so clients queue in its backlog until the function accepts.
		listener.SetUnlinkOnClose(false)
		listener.Close()
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\nconnection: close\r\n\r\n{\"state\":\"ready\"}")
		buf.Flush()
		conn.Close()
		codeDir := req.CodeDir
		if codeDir == "" {
			codeDir = "/var/task"
		}
		err = execFunction(path, req.Env, fmt.Sprintf("KUMO_LISTEN_FD=%d", file.Fd()), "KUMO_CODE_DIR="+codeDir)
		logLine("error", "exec "+path+" failed: "+err.Error(), nil)
		os.Exit(1)
	})
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		os.Remove(socket)
		os.Exit(0)
	}()
	logLine("info", "shim ready", map[string]any{"runtime": "go", "state": "stem-cell"})
	// No keep-alive: an idle connection held across the exec at /init would be reset.
	server := &http.Server{Handler: mux}
	server.SetKeepAlivesEnabled(false)
	server.Serve(listener)
	// Serve returns once /init closes the listener; that handler then execs the function.
	select {}
}
