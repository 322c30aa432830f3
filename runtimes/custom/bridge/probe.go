package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// probe tells whether the image's server is ready: its port accepts a connection, or, with a health
// path, GET <path> answers 2xx.
type probe struct {
	target     string
	healthPath string
	client     *http.Client
	// ready is set once the server has been ready: until then /healthz answers 503 without probing,
	// so the autoscaler's start-up polling does not turn into a connection storm.
	ready atomic.Bool
}

func newProbe(target, healthPath string) *probe {
	return &probe{
		target:     target,
		healthPath: healthPath,
		client: &http.Client{
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
			Timeout:   2 * time.Second,
			// The health path itself must answer 2xx: a redirect is not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// once probes the server one time.
func (p *probe) once(ctx context.Context) error {
	if p.healthPath == "" {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", p.target)
		if err != nil {
			return fmt.Errorf("the server does not accept connections on %s yet", p.target)
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.target+p.healthPath, nil)
	if err != nil {
		return err
	}
	res, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s on %s: no answer yet", p.healthPath, p.target)
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("GET %s on %s answered %d", p.healthPath, p.target, res.StatusCode)
	}
	return nil
}

// check is /healthz: not ready before the first success, a live probe after it (the autoscaler asks
// when an invocation timed out, to tell a hung server from a slow handler).
func (p *probe) check(ctx context.Context) error {
	if !p.ready.Load() {
		return fmt.Errorf("waiting for the server on %s", p.target)
	}
	return p.once(ctx)
}

// waitReady polls until the server is ready (then calls onReady once) or the child has exited.
func (p *probe) waitReady(exited <-chan struct{}, onReady func()) {
	for {
		select {
		case <-exited:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := p.once(ctx)
		cancel()
		if err == nil {
			p.ready.Store(true)
			onReady()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
