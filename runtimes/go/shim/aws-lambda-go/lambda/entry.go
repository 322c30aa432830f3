// Package lambda starts a Lambda function on Kumo: Start and its variants serve the Kumo runtime
// protocol (the shim of kumo.dev/shim/serve) instead of Lambda's Runtime API. HTTP invocations
// arrive as API Gateway HTTP API events (payload format 2.0; 1.0 for a handler whose event is an
// events.APIGatewayProxyRequest), event invocations as their JSON payload; the handler's result
// becomes the response by API Gateway's rules, and a returned error or a panic is FN_004.
package lambda

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"reflect"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"kumo.dev/shim/serve"
)

// Start serves handler, a function of a documented Lambda signature or a Handler; it does not return.
//
//	func ()
//	func () error
//	func (TIn) error
//	func () (TOut, error)
//	func (TIn) (TOut, error)
//	func (context.Context) error
//	func (context.Context, TIn) error
//	func (context.Context) (TOut, error)
//	func (context.Context, TIn) (TOut, error)
func Start(handler interface{}) {
	StartWithOptions(handler)
}

// StartWithOptions is Start with options.
func StartWithOptions(handler interface{}, options ...Option) {
	o := newOptions(options)
	if h, ok := handler.(Handler); ok {
		start(h, serve.FormatV2, o)
	}
	h, err := newReflectHandler(handler, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambda.Start:", err)
		os.Exit(1)
	}
	format := serve.FormatV2
	if h.event == v1EventType {
		format = serve.FormatV1
	}
	start(h, format, o)
}

// StartWithContext is StartWithOptions(handler, WithContext(ctx)).
//
// Deprecated: use StartWithOptions.
func StartWithContext(ctx context.Context, handler interface{}) {
	StartWithOptions(handler, WithContext(ctx))
}

// StartHandler serves a Handler.
//
// Deprecated: use Start.
func StartHandler(handler Handler) {
	start(handler, serve.FormatV2, newOptions(nil))
}

// StartHandlerWithContext serves a Handler with a base context.
//
// Deprecated: use StartWithOptions.
func StartHandlerWithContext(ctx context.Context, handler Handler) {
	start(handler, serve.FormatV2, newOptions([]Option{WithContext(ctx)}))
}

// StartHandlerFunc serves a typed handler.
func StartHandlerFunc[TIn any, TOut any, H HandlerFunc[TIn, TOut]](handler H, options ...Option) {
	StartWithOptions((func(context.Context, TIn) (TOut, error))(handler), options...)
}

// withBase is an invocation's context: the request's deadline and cancellation, and the values of
// the base context (WithContext) under the request's own.
type withBase struct {
	context.Context
	base context.Context
}

func (c withBase) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.base.Value(key)
}

func start(h Handler, format serve.EventFormat, o handlerOptions) {
	fn := serve.Function{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := serve.LambdaEvent(r, format)
		if err != nil {
			serve.Fail(w, r, "reading the request: "+err.Error(), nil)
			return
		}
		id := r.Header.Get("kumo-invocation-id")
		ctx := lambdacontext.NewContext(withBase{r.Context(), o.baseContext}, &lambdacontext.LambdaContext{
			AwsRequestID:       id,
			InvokedFunctionArn: lambdacontext.FunctionName,
		})
		out, err := h.Invoke(ctx, payload)
		if err != nil {
			serve.Fail(w, r, err.Error(), map[string]any{"errorType": errorTypeName(err)})
			return
		}
		if err := serve.WriteLambdaResult(w, out); err != nil {
			serve.Fail(w, r, err.Error(), nil)
		}
	})}
	if o.sigterm {
		fn.Stop = func(context.Context) error {
			for _, callback := range o.sigtermCallbacks {
				callback()
			}
			return nil
		}
	}
	serve.Main(fn)
}

// errorTypeName is Lambda's errorType: the error's type name without its package.
func errorTypeName(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}
