import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuildKit } from "../builder/builder-kit.ts";
import { type DeployedFunction, Plane, waitFor } from "../invocation/plane.ts";
import { SETUP_TIMEOUT_MS, TEST_LABEL } from "./runtime-harness.ts";

/**
 * Go handler shapes of other platforms, written from their documented contracts (AWS Lambda's Go
 * programming model with github.com/aws/aws-lambda-go, Knative func's Go templates): each is built
 * by kumo-go-build as a user's module would be and invoked through the gateway's /fn route.
 */
const run = promisify(execFile);

/** What the builder's plan for a go function does (services/builder/src/build-plan.ts). */
const DOCKERFILE = `FROM kumo/runtime-go-build:latest AS build
COPY . /src
RUN ["kumo-go-build", "-src", "/src", "-out", "/out/function"]
FROM kumo/runtime-go:latest
COPY --from=build /out/function /var/task/function
ENV KUMO_CODE_DIR=/var/task
`;

/** go.mod as `go mod init` and `go get github.com/aws/aws-lambda-go` leave it. */
const lambdaMod = (name: string) =>
  `module example.com/${name}\n\ngo 1.23\n\nrequire github.com/aws/aws-lambda-go v1.47.0\n`;

const LAMBDA_V2 = {
  "go.mod": lambdaMod("lambda-v2"),
  "main.go": `package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func handler(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if req.RawPath == "/fail" {
		return events.APIGatewayV2HTTPResponse{}, errors.New("refused by the handler")
	}
	lc, ok := lambdacontext.FromContext(ctx)
	_, hasDeadline := ctx.Deadline()
	body, _ := json.Marshal(map[string]any{
		"method":    req.RequestContext.HTTP.Method,
		"path":      req.RawPath,
		"query":     req.QueryStringParameters,
		"body":      req.Body,
		"base64":    req.IsBase64Encoded,
		"custom":    req.Headers["x-custom"],
		"cookies":   req.Cookies,
		"requestId": ok && lc.AwsRequestID != "" && lc.AwsRequestID == req.RequestContext.RequestID,
		"deadline":  hasDeadline,
	})
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 201,
		Headers:    map[string]string{"Content-Type": "application/json", "X-Shape": "lambda-v2"},
		Cookies:    []string{"a=1", "b=2"},
		Body:       string(body),
	}, nil
}

func main() {
	lambda.Start(handler)
}
`,
};

const LAMBDA_V1 = {
  "go.mod": lambdaMod("lambda-v1"),
  "main.go": `package main

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handler(req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if req.Path == "/bin" {
		return events.APIGatewayProxyResponse{StatusCode: 200, IsBase64Encoded: true,
			Body: base64.StdEncoding.EncodeToString([]byte("raw bytes"))}, nil
	}
	return events.APIGatewayProxyResponse{
		StatusCode:        202,
		MultiValueHeaders: map[string][]string{"X-Multi": {"1", "2"}},
		Body: fmt.Sprintf("%s %s a=%s proxy=%s body=%s", req.HTTPMethod, req.Path,
			strings.Join(req.MultiValueQueryStringParameters["a"], "|"), req.PathParameters["proxy"], req.Body),
	}, nil
}

func main() {
	lambda.StartWithOptions(handler, lambda.WithSetEscapeHTML(false))
}
`,
};

// Knative func's static Go template: Handle(ctx, res, req) in package function.
const KNATIVE_STATIC = {
  "go.mod": "module function\n\ngo 1.23\n",
  "handle.go": `package function

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Handle an HTTP Request.
func Handle(ctx context.Context, res http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	_, hasDeadline := ctx.Deadline()
	res.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(res, "static %s %s %s deadline=%v", req.Method, req.URL.Path, body, hasDeadline)
}
`,
};

// Knative func's instanced Go template: New() and a Handle method, with the optional lifecycle methods.
const KNATIVE_INSTANCED = {
  "go.mod": "module function\n\ngo 1.23\n",
  "function.go": `package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// MyFunction is the function's implementation.
type MyFunction struct {
	mu       sync.Mutex
	started  bool
	greeting string
	calls    int
}

// New constructs an instance of the function.
func New() *MyFunction {
	return &MyFunction{}
}

// Start is called before the function serves, with its configuration.
func (f *MyFunction) Start(ctx context.Context, cfg map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started, f.greeting = true, cfg["GREETING"]
	return nil
}

// Stop is called when the instance stops.
func (f *MyFunction) Stop(ctx context.Context) error {
	fmt.Println("instance stopping after", f.calls, "calls")
	return nil
}

// Ready reports whether the instance can serve.
func (f *MyFunction) Ready(ctx context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started, nil
}

// Alive reports whether the instance is healthy.
func (f *MyFunction) Alive(ctx context.Context) (bool, error) {
	return true, nil
}

// Handle a request using the function instance.
func (f *MyFunction) Handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	state := map[string]any{"started": f.started, "greeting": f.greeting, "calls": f.calls, "path": r.URL.Path}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(state)
}
`,
};

/** Runs kumo-go-build on a module in the build image; its exit code and output. */
async function goBuild(
  files: Record<string, string>,
  plane: Plane,
): Promise<{ code: number; output: string }> {
  const src = plane.harness.writeCode(files);
  try {
    const { stdout, stderr } = await run("docker", [
      "run",
      "--rm",
      "--label",
      TEST_LABEL,
      "-v",
      `${src}:/src:ro`,
      "kumo/runtime-go-build:latest",
      "kumo-go-build",
      "-src",
      "/src",
      "-out",
      "/tmp/function",
    ]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("handler shapes - go", () => {
  let plane: Plane;
  let lambdaV2: DeployedFunction;
  let instanced: DeployedFunction;

  beforeAll(async () => {
    plane = await new Plane({ langs: ["go"] }).start();
    const deploy = (name: string, files: Record<string, string>, env: Record<string, string> = {}) =>
      plane.deploy(name, "go", { ...files, Dockerfile: DOCKERFILE }, { env });
    [lambdaV2, , , instanced] = await Promise.all([
      deploy("lambda-v2", LAMBDA_V2),
      deploy("lambda-v1", LAMBDA_V1),
      deploy("knative-static", KNATIVE_STATIC),
      deploy("knative-new", KNATIVE_INSTANCED, { GREETING: "hi" }),
    ]);
  }, SETUP_TIMEOUT_MS);
  afterAll(() => plane?.close(), SETUP_TIMEOUT_MS);

  it("lambda - lambda.Start(handler) with APIGatewayV2HTTPRequest/Response answers through /fn", async () => {
    const res = await plane.invoke("lambda-v2", {
      path: "/items/7?a=1&a=2&b=x%20y",
      body: "hello",
      headers: { "content-type": "text/plain", "x-custom": "yes", cookie: "c1=v1; c2=v2" },
    });
    expect(res.status, res.body).toBe(201);
    expect(res.headers["x-shape"]).toBe("lambda-v2");
    expect(res.headers["set-cookie"]).toEqual(["a=1", "b=2"]);
    expect(res.json).toEqual({
      method: "POST",
      path: "/items/7",
      query: { a: "1,2", b: "x y" },
      body: "hello",
      base64: false,
      custom: "yes",
      cookies: ["c1=v1", "c2=v2"],
      requestId: true,
      deadline: true,
    });
  });

  it("lambda - a returned error is a 500 FN_004 with the error's message", async () => {
    const res = await plane.invoke("lambda-v2", { path: "/fail", method: "GET" });
    expect(res.status).toBe(500);
    expect(res.body).toContain("FN_004");
    expect(res.body).toContain("refused by the handler");
  });

  it("lambda - an event invocation (kumo-event-type) hands the JSON payload to the handler as it is", async () => {
    const fn = await plane.harness.start(lambdaV2.image);
    const res = await fn.request({
      method: "POST",
      path: "/invoke",
      headers: { "kumo-event-type": "queue", "kumo-invocation-id": "inv-evt" },
      body: JSON.stringify({
        rawPath: "/from-event",
        body: "queued",
        requestContext: { requestId: "inv-evt" },
      }),
    });
    expect(res.status, res.body.toString()).toBe(201);
    expect(res.json()).toMatchObject({ method: "", path: "/from-event", body: "queued", requestId: true });
  });

  it("lambda - a handler typed for APIGatewayProxyRequest gets payload format 1.0; base64 results are decoded", async () => {
    const res = await plane.invoke("lambda-v1", { path: "/p/q?a=1&a=2", body: "b<>" });
    expect(res.status, res.body).toBe(202);
    expect(res.headers["x-multi"]).toEqual(["1", "2"]);
    expect(res.body).toBe("POST /p/q a=1|2 proxy=p/q body=b<>");
    const bin = await plane.invoke("lambda-v1", { path: "/bin", method: "GET" });
    expect([bin.status, bin.body]).toEqual([200, "raw bytes"]);
  });

  it("knative - a static Handle(ctx, res, req) gets the request and the invocation's deadline", async () => {
    const res = await plane.invoke("knative-static", { path: "/k?x=1", body: "data" });
    expect(res.status, res.body).toBe(200);
    expect(res.body).toBe("static POST /k data deadline=true");
  });

  it("knative - an instanced New() function is started with its config and keeps its state across calls", async () => {
    const first = await plane.invoke("knative-new", { path: "/one", method: "GET" });
    expect(first.status, first.body).toBe(200);
    expect(first.json).toEqual({ started: true, greeting: "hi", calls: 1, path: "/one" });
    const second = await plane.invoke("knative-new", { path: "/two", method: "GET" });
    expect(second.json).toMatchObject({ calls: 2, path: "/two" });
  });

  it("knative - /healthz answers ready once Start ran (Ready, Alive) and Stop runs when the instance is stopped", async () => {
    const fn = await plane.harness.start(instanced.image, { env: { GREETING: "direct" } });
    expect((await fn.request({ path: "/healthz" })).json()).toMatchObject({ state: "ready" });
    await fn.request({ path: "/invoke/x" });
    await run("docker", ["stop", "-t", "5", fn.id]);
    await waitFor("the Stop log line", async () =>
      (await fn.logs()).find((l) => l.message === "instance stopping after 1 calls"),
    );
  });

  it(
    "build - a main package without lambda.Start or a Handle of another signature fails naming the accepted shapes; a vendored Lambda module builds",
    async () => {
      const plainMain = await goBuild(
        { "go.mod": "module m\n\ngo 1.23\n", "main.go": "package main\n\nfunc main() {}\n" },
        plane,
      );
      expect(plainMain.code).not.toBe(0);
      expect(plainMain.output).toContain("does not call lambda.Start");
      expect(plainMain.output).toContain("Kumo accepts: package function with func Handle(");
      const wrongHandle = await goBuild(
        { "go.mod": "module m\n\ngo 1.23\n", "f.go": "package function\n\nfunc Handle(s string) {}\n" },
        plane,
      );
      expect(wrongHandle.code).not.toBe(0);
      expect(wrongHandle.output).toContain("does not have a shape Kumo accepts");
      expect(wrongHandle.output).toContain("lambda.Start(handler) of github.com/aws/aws-lambda-go");
      const badLambda = await goBuild(
        {
          "go.mod": lambdaMod("bad"),
          "main.go": `package main\n\nimport "github.com/aws/aws-lambda-go/lambda"\n\nfunc main() { lambda.Start(42) }\n`,
        },
        plane,
      );
      // A vendored module (the way to bring dependencies offline) that vendored AWS's library too (a
      // stand-in whose Start takes no handler, so building against it fails): Kumo's module takes its
      // place in vendor/, and the other vendored dependency still builds.
      const vendored = await goBuild(
        {
          "go.mod": `${lambdaMod("vendored")}\nrequire example.com/greet v0.1.0\n`,
          "vendor/modules.txt":
            "# example.com/greet v0.1.0\n## explicit; go 1.23\nexample.com/greet\n# github.com/aws/aws-lambda-go v1.47.0\n## explicit; go 1.18\ngithub.com/aws/aws-lambda-go/lambda\n",
          "vendor/example.com/greet/greet.go": 'package greet\n\nfunc Greet() string { return "hi" }\n',
          "vendor/github.com/aws/aws-lambda-go/lambda/entry.go": "package lambda\n\nfunc Start() {}\n",
          "main.go": `package main\n\nimport (\n\t"example.com/greet"\n\t"github.com/aws/aws-lambda-go/lambda"\n)\n\nfunc main() { lambda.Start(func() (string, error) { return greet.Greet(), nil }) }\n`,
        },
        plane,
      );
      expect(vendored.code, vendored.output).toBe(0);
      // It compiles (Start takes interface{}); the handler is refused when the binary starts, as on Lambda.
      expect(badLambda.code, badLambda.output).toBe(0);
    },
    SETUP_TIMEOUT_MS,
  );

  it(
    "deploy - the builder builds a Lambda module as uploaded, and fails an unsupported shape with FN_005 naming the accepted ones",
    async () => {
      const kit = await startBuildKit();
      try {
        const lambda = await kit.deploy("lambda-upload", "go", LAMBDA_V2);
        expect(lambda.error, lambda.log).toBeNull();
        expect(lambda.status).toBe("succeeded");
        const bad = await kit.deploy("plain-main", "go", {
          "go.mod": "module example.com/plain\n\ngo 1.23\n",
          "main.go":
            'package main\n\nimport "net/http"\n\nfunc main() { http.ListenAndServe(":8080", nil) }\n',
        });
        expect(bad.status).toBe("failed");
        expect(bad.error?.code).toBe("FN_005");
        expect(`${bad.error?.message}\n${bad.log}`).toContain(
          "Kumo accepts: package function with func Handle(",
        );
      } finally {
        await kit.close();
      }
    },
    SETUP_TIMEOUT_MS,
  );
});
