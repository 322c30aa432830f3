// Package lambdacontext is the Lambda invocation context: FromContext gives the request id of the
// invocation (Kumo's invocation id); the package variables name the function.
package lambdacontext

import (
	"context"
	"os"
	"strconv"
)

// The function's identity, read from the environment once: AWS's variables when set, else Kumo's.
var (
	FunctionName    = firstEnv("AWS_LAMBDA_FUNCTION_NAME", "KUMO_FUNCTION_NAME")
	FunctionVersion = firstEnv("AWS_LAMBDA_FUNCTION_VERSION", "KUMO_FUNCTION_VERSION")
	LogGroupName    = os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME")
	LogStreamName   = os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME")
	MemoryLimitInMB = memoryLimit()
)

func firstEnv(names ...string) string {
	for _, name := range names {
		if value := os.Getenv(name); value != "" {
			return value
		}
	}
	return ""
}

func memoryLimit() int {
	n, _ := strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	return n
}

// CognitoIdentity is the caller's Amazon Cognito identity (empty on Kumo).
type CognitoIdentity struct {
	CognitoIdentityID     string
	CognitoIdentityPoolID string
}

// ClientApplication describes a mobile caller's application (empty on Kumo).
type ClientApplication struct {
	InstallationID string `json:"installation_id"`
	AppTitle       string `json:"app_title"`
	AppVersionCode string `json:"app_version_code"`
	AppPackageName string `json:"app_package_name"`
}

// ClientContext is what a mobile SDK caller passes (empty on Kumo).
type ClientContext struct {
	Client ClientApplication
	Env    map[string]string `json:"env"`
	Custom map[string]string `json:"custom"`
}

// LambdaContext is the invocation's metadata.
type LambdaContext struct {
	AwsRequestID       string
	InvokedFunctionArn string
	Identity           CognitoIdentity
	ClientContext      ClientContext
}

type key struct{}

// NewContext returns a context that carries lc.
func NewContext(parent context.Context, lc *LambdaContext) context.Context {
	return context.WithValue(parent, key{}, lc)
}

// FromContext returns the LambdaContext in ctx, if any.
func FromContext(ctx context.Context) (*LambdaContext, bool) {
	lc, ok := ctx.Value(key{}).(*LambdaContext)
	return lc, ok
}
