import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureRuntimeImages,
  type RunningFunction,
  RuntimeHarness,
  SETUP_TIMEOUT_MS,
  waitForLog,
} from "./runtime-harness.ts";

// package function with Handle(w, r), plus a dependency as a local module (replace directive): no network.
const files: Record<string, string> = {
  "go.mod":
    "module example.com/hello\n\ngo 1.23\n\nrequire example.com/greet v0.0.0\n\nreplace example.com/greet => ./greet\n",
  "greet/go.mod": "module example.com/greet\n\ngo 1.23\n",
  "greet/greet.go": 'package greet\n\nfunc Shout(s string) string { return s + "!" }\n',
  "handler.go": `package function

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strconv"

	"example.com/greet"
)

func Handle(w http.ResponseWriter, r *http.Request) {
	fmt.Println("go got", r.Method, r.URL.Path)
	if r.URL.Path == "/throw" {
		log.Printf("about to panic")
		slog.Warn("careful", "k", 1)
		fmt.Fprintln(os.Stderr, "to stderr")
		panic("kaboom from go")
	}
	if r.URL.Path == "/status" {
		status, _ := strconv.Atoi(r.URL.Query().Get("s"))
		w.WriteHeader(status)
		w.Write([]byte("x"))
		return
	}
	body, _ := io.ReadAll(r.Body)
	h := w.Header()
	h.Set("content-type", r.Header.Get("content-type"))
	h.Set("x-method", r.Method)
	h.Set("x-query", r.URL.RawQuery)
	h.Set("x-invocation", r.Header.Get("kumo-invocation-id"))
	h.Set("x-dep", greet.Shout("dep"))
	h.Set("x-env", os.Getenv("GREETING"))
	_, hasDeadline := r.Context().Deadline()
	h.Set("x-deadline", fmt.Sprint(hasDeadline))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
`,
  // The build stage is labelled too: the legacy builder keeps it as a dangling image, which cleanup() prunes.
  Dockerfile: `FROM kumo/runtime-go-build:latest AS build
LABEL dev.kumo.test=1
COPY . /src
RUN ["kumo-go-build", "-src", "/src", "-out", "/out/function"]
FROM kumo/runtime-go:latest
COPY --from=build /out/function /var/task/function
ENV KUMO_CODE_DIR=/var/task
`,
};

const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe("runtime go - shim", () => {
  const harness = new RuntimeHarness();
  let image = "";
  let fn: RunningFunction;

  beforeAll(async () => {
    await ensureRuntimeImages(["go"]);
    image = await harness.buildImage(files);
    fn = await harness.start(image, { env: { GREETING: "hi" } });
  }, SETUP_TIMEOUT_MS);
  afterAll(() => harness.cleanup());

  it("healthz - 200 from the compiled function", async () => {
    const res = await fn.request({ path: "/healthz" });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ state: "ready", runtime: "go" });
  });

  it("Handle - method, path, query, headers, deadline and binary body round-trip", async () => {
    const res = await fn.request({
      method: "PUT",
      path: "/invoke/things/1?x=2",
      headers: {
        "kumo-invocation-id": "inv-g1",
        "kumo-deadline-ms": String(Date.now() + 30_000),
        "content-type": "application/octet-stream",
      },
      body: binary,
    });
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body, binary)).toBe(0);
    expect(res.headers).toMatchObject({
      "x-method": "PUT",
      "x-query": "x=2",
      "x-invocation": "inv-g1",
      "x-dep": "dep!",
      "x-env": "hi",
      "x-deadline": "true",
    });
  });

  it("panic - 500 FN_004 with the stack, and the shim keeps serving", async () => {
    const res = await fn.request({ path: "/invoke/throw", headers: { "kumo-invocation-id": "inv-g2" } });
    expect(res.status).toBe(500);
    expect(res.headers["kumo-error"]).toBe("FN_004");
    const body = res.json() as { code: string; message: string; stack: string };
    expect(body).toMatchObject({ code: "FN_004", message: "kaboom from go" });
    expect(body.stack).toContain("goroutine");
    expect((await fn.request({ path: "/invoke/ok" })).status).toBe(200);
  });

  it("status - 101 or a status outside 100-599 is a 500 FN_004 naming it; other 1xx are interim", async () => {
    for (const status of [101, 600, 1000, -1]) {
      const res = await fn.request({ path: `/invoke/status?s=${status}`, timeoutMs: 3000 });
      expect([res.status, res.headers["kumo-error"]], String(status)).toEqual([500, "FN_004"]);
      expect((res.json() as { message: string }).message).toContain(`status ${status} `);
    }
    // net/http sends 1xx other than 101 ahead of the response (103 Early Hints); the answer follows.
    const hinted = await fn.request({ path: "/invoke/status?s=103", timeoutMs: 3000 });
    expect([hinted.status, hinted.body.toString()]).toEqual([200, "x"]);
  });

  it("logs - fmt and log output become JSON lines tagged with the invocation id", async () => {
    await fn.request({ path: "/invoke/logme", headers: { "kumo-invocation-id": "inv-glog" } });
    const line = await waitForLog(fn, (l) => l.invocationId === "inv-glog");
    expect(line).toMatchObject({ level: "info", message: "go got GET /logme" });
    // The log package has no levels (info); slog's default handler names one; stderr is error.
    await waitForLog(
      fn,
      (l) => l.invocationId === "inv-g2" && l.level === "info" && l.message === "about to panic",
    );
    await waitForLog(
      fn,
      (l) => l.invocationId === "inv-g2" && l.level === "warn" && l.message === "WARN careful k=1",
    );
    await waitForLog(
      fn,
      (l) => l.invocationId === "inv-g2" && l.level === "error" && l.message === "to stderr",
    );
  });

  it("stem cell - the generic launcher execs the binary from a read-only mount on /init", async () => {
    const code = harness.writeCode({});
    await harness.copyFromImage(image, "/var/task/function", code, "function");
    const cell = await harness.start("kumo/runtime-go:latest", { codeMount: code });
    expect((await cell.request({ path: "/healthz" })).json()).toMatchObject({ state: "stem-cell" });
    expect((await cell.request({ path: "/invoke/x" })).status).toBe(503);
    const init = await cell.request({
      method: "POST",
      path: "/init",
      body: JSON.stringify({ codeDir: "/code", env: { GREETING: "from-init" } }),
    });
    expect(init.status).toBe(200);
    const res = await cell.request({ method: "POST", path: "/invoke/hello", body: "hey" });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe("hey");
    expect(res.headers["x-env"]).toBe("from-init");
    expect((await cell.request({ method: "POST", path: "/init", body: "{}" })).status).toBe(409);
  });
});
