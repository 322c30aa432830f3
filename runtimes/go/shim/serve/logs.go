package serve

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"time"
)

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
