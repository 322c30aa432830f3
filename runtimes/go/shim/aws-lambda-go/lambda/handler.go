package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is a Lambda function as bytes in, bytes out: the JSON event and the JSON result.
type Handler interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// HandlerFunc is the typed handler StartHandlerFunc takes.
type HandlerFunc[TIn, TOut any] interface {
	~func(context.Context, TIn) (TOut, error)
}

// Option configures a handler (StartWithOptions, NewHandlerWithOptions).
type Option func(*handlerOptions)

type handlerOptions struct {
	baseContext           context.Context
	escapeHTML            bool
	indentPrefix, indent  string
	useNumber             bool
	disallowUnknownFields bool
	sigtermCallbacks      []func()
	sigterm               bool
}

// WithContext sets the context invocations inherit values from.
func WithContext(ctx context.Context) Option {
	return func(o *handlerOptions) { o.baseContext = ctx }
}

// WithSetEscapeHTML sets whether the result's JSON escapes <, > and & (default true).
func WithSetEscapeHTML(escapeHTML bool) Option {
	return func(o *handlerOptions) { o.escapeHTML = escapeHTML }
}

// WithSetIndent indents the result's JSON as json.Encoder.SetIndent does.
func WithSetIndent(prefix, indent string) Option {
	return func(o *handlerOptions) { o.indentPrefix, o.indent = prefix, indent }
}

// WithUseNumber decodes numbers in an interface{} event as json.Number.
func WithUseNumber(useNumber bool) Option {
	return func(o *handlerOptions) { o.useNumber = useNumber }
}

// WithDisallowUnknownFields fails an invocation whose event has fields the event type lacks.
func WithDisallowUnknownFields(disallow bool) Option {
	return func(o *handlerOptions) { o.disallowUnknownFields = disallow }
}

// WithEnableSIGTERM runs the callbacks when the instance is stopped (SIGTERM), before it exits.
func WithEnableSIGTERM(callbacks ...func()) Option {
	return func(o *handlerOptions) {
		o.sigterm = true
		o.sigtermCallbacks = append(o.sigtermCallbacks, callbacks...)
	}
}

var (
	contextType = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType   = reflect.TypeOf((*error)(nil)).Elem()
	v1EventType = reflect.TypeOf(events.APIGatewayProxyRequest{})
)

// reflectHandler is a handler function of any documented signature: up to two arguments (a
// context.Context first when two), up to two results (an error last).
type reflectHandler struct {
	fn       reflect.Value
	event    reflect.Type // nil when the handler takes no event
	options  handlerOptions
	outCount int
}

type errorHandler struct{ err error }

func (h errorHandler) Invoke(context.Context, []byte) ([]byte, error) { return nil, h.err }

func newOptions(options []Option) handlerOptions {
	o := handlerOptions{baseContext: context.Background(), escapeHTML: true}
	for _, option := range options {
		option(&o)
	}
	return o
}

// NewHandler wraps a handler function; an invalid one gives a Handler whose invocations fail naming why.
func NewHandler(handlerFunc interface{}) Handler {
	return NewHandlerWithOptions(handlerFunc)
}

// NewHandlerWithOptions is NewHandler with options.
func NewHandlerWithOptions(handlerFunc interface{}, options ...Option) Handler {
	h, err := newReflectHandler(handlerFunc, newOptions(options))
	if err != nil {
		return errorHandler{err}
	}
	return h
}

func newReflectHandler(handlerFunc interface{}, options handlerOptions) (*reflectHandler, error) {
	if handlerFunc == nil {
		return nil, errors.New("handler is nil")
	}
	fn := reflect.ValueOf(handlerFunc)
	t := fn.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("handler kind %s is not %s", t.Kind(), reflect.Func)
	}
	h := &reflectHandler{fn: fn, options: options, outCount: t.NumOut()}
	switch t.NumIn() {
	case 0:
	case 1:
		if !t.In(0).Implements(contextType) {
			h.event = t.In(0)
		}
	case 2:
		if !t.In(0).Implements(contextType) {
			return nil, fmt.Errorf("handler takes two arguments, but the first is not Context. got %s", t.In(0))
		}
		h.event = t.In(1)
	default:
		return nil, fmt.Errorf("handlers may not take more than two arguments, but handler takes %d", t.NumIn())
	}
	switch t.NumOut() {
	case 0:
	case 1:
		if !t.Out(0).Implements(errorType) {
			return nil, errors.New("handler returns a single value, but it does not implement error")
		}
	case 2:
		if !t.Out(1).Implements(errorType) {
			return nil, errors.New("handler returns two values, but the second does not implement error")
		}
	default:
		return nil, errors.New("handler may not return more than two values")
	}
	return h, nil
}

func (h *reflectHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	t := h.fn.Type()
	var args []reflect.Value
	if t.NumIn() == 2 || t.NumIn() == 1 && h.event == nil {
		args = append(args, reflect.ValueOf(ctx))
	}
	if h.event != nil {
		event := reflect.New(h.event)
		decoder := json.NewDecoder(bytes.NewReader(payload))
		if h.options.useNumber {
			decoder.UseNumber()
		}
		if h.options.disallowUnknownFields {
			decoder.DisallowUnknownFields()
		}
		if err := decoder.Decode(event.Interface()); err != nil {
			return nil, err
		}
		args = append(args, event.Elem())
	}
	results := h.fn.Call(args)
	if h.outCount > 0 {
		if err, _ := results[h.outCount-1].Interface().(error); err != nil {
			return nil, err
		}
	}
	if h.outCount < 2 {
		return []byte("null"), nil
	}
	var out bytes.Buffer
	encoder := json.NewEncoder(&out)
	encoder.SetEscapeHTML(h.options.escapeHTML)
	encoder.SetIndent(h.options.indentPrefix, h.options.indent)
	if err := encoder.Encode(results[0].Interface()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}
