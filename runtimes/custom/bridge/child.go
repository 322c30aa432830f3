package main

import (
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
)

// child is the image's own server process.
type child struct {
	pid int
	// done is closed when the process has exited; status is then set.
	done   chan struct{}
	status int
}

// startChild runs the image's command with PORT set, its stdio being the container's own (the
// bridge holds no copy of the logs), and starts reaping: as PID 1 the bridge also inherits the
// child's orphans, which would otherwise stay zombies and count against the pids limit.
func startChild(command []string, port int) (*child, error) {
	// Signals are registered before the start, so none sent in between is lost.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGCHLD)
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		for sig := range signals {
			if sig != syscall.SIGCHLD {
				syscall.Kill(c.pid, sig.(syscall.Signal))
				continue
			}
			if c.reap() {
				return
			}
		}
	}()
	// A SIGCHLD that came before Notify took effect is not lost: reap once now too.
	go func() { signals <- syscall.SIGCHLD }()
	return c, nil
}

// reap collects every exited process; true once the server itself has exited.
func (c *child) reap() bool {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return false
		}
		if pid != c.pid {
			continue
		}
		if ws.Signaled() {
			c.status = 128 + int(ws.Signal())
		} else {
			c.status = ws.ExitStatus()
		}
		close(c.done)
		return true
	}
}

// wait blocks until the server exits and returns the exit code the container should end with.
func (c *child) wait() int {
	<-c.done
	return c.status
}
