import { describe, expect, it } from "vitest";
import { edgeTarget, invokeEdge } from "./edge-test-kit.ts";
import { edgeProviderForFile, ROOMY } from "./edge-test-provider.ts";

/**
 * Lambda response streaming handlers (`awslambda.streamifyResponse`, as AWS documents them for
 * Node.js) run unmodified in edge isolates; the response leaves the isolate when the stream ends.
 */
const edge = edgeProviderForFile();

async function call(source: string, config: Record<string, unknown> = {}) {
  const target = await edgeTarget(source, { config: { ...ROOMY, ...config } });
  return invokeEdge(edge.current, target, { method: "POST", url: "/stream?n=3", body: '{"x":1}' });
}

describe("edge lambda streaming", () => {
  it("edge lambda streaming - writes across awaits and timers arrive in order with the content type set", async () => {
    const res = await call(`
      export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
        responseStream.setContentType("text/plain");
        responseStream.write("method " + event.requestContext.http.method + "\\n");
        await new Promise((resolve) => setTimeout(resolve, 20));
        responseStream.write(new TextEncoder().encode("bytes\\n"), () => {});
        setTimeout(() => responseStream.end("id " + (context.awsRequestId ? "set" : "missing") + "\\n"), 10);
        await new Promise((resolve) => responseStream.on("finish", resolve));
      });
    `);
    expect(res.status, res.text).toBe(200);
    expect(res.header("content-type")).toBe("text/plain");
    expect(res.text).toBe("method POST\nbytes\nid set\n");
  });

  it("edge lambda streaming - HttpResponseStream.from sets status, headers and cookies before the body", async () => {
    const res = await call(`
      export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
        const stream = awslambda.HttpResponseStream.from(responseStream, {
          statusCode: 201,
          headers: { "Content-Type": "application/json", "X-Custom": "yes" },
          cookies: ["a=1; Path=/", "b=2"],
        });
        stream.write(JSON.stringify({ got: JSON.parse(event.body) }));
        stream.end();
      });
    `);
    expect(res.status, res.text).toBe(201);
    expect(res.header("content-type")).toBe("application/json");
    expect(res.header("x-custom")).toBe("yes");
    const cookies = res.result.headers.filter(([k]) => k.toLowerCase() === "set-cookie").map(([, v]) => v);
    expect(cookies).toEqual(["a=1; Path=/", "b=2"]);
    expect(res.json()).toEqual({ got: { x: 1 } });
  });

  it("edge lambda streaming - a handler that returns without ending is ended; octet-stream by default", async () => {
    const res = await call(`
      export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
        responseStream.write("partial");
      });
    `);
    expect(res.status, res.text).toBe(200);
    expect(res.header("content-type")).toBe("application/octet-stream");
    expect(res.text).toBe("partial");
  });

  it("edge lambda streaming - a prelude after the first write fails the invocation with the reason", async () => {
    const res = await call(`
      export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
        responseStream.write("too early");
        awslambda.HttpResponseStream.from(responseStream, { statusCode: 404 });
      });
    `);
    expect(res.status).toBe(500);
    expect(res.result.error?.message ?? "").toContain(
      "HttpResponseStream.from must come before the first write",
    );
  });

  it("edge lambda streaming - node:stream's pipeline writes into the response stream (nodejs compatibility)", async () => {
    const res = await call(
      `
      import { Readable } from "node:stream";
      import { pipeline } from "node:stream/promises";
      export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
        await pipeline(Readable.from(["a", "b", "c"]), responseStream);
      });
    `,
      { compatibility: ["nodejs"] },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe("abc");
  });
});
