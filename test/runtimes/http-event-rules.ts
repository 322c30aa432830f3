import { expect } from "vitest";
import type { RunningFunction } from "./runtime-harness.ts";

/**
 * The HTTP event rules every runtime follows (runtimes/shared/lambda-event.mjs, and python's shim
 * by the same rules): one request, the event its `echo` handler must hand back.
 */
export async function expectHttpEventRules(
  target: Pick<RunningFunction, "request">,
  invocationId: string,
): Promise<void> {
  const res = await target.request({
    path: "/invoke/echo?a=1&a=2&b=x%20y+z&flag",
    headers: {
      "kumo-invocation-id": invocationId,
      cookie: ["c1=v1; c2=v2", "c3=v3"],
      "X-Mixed-Case": "yes",
      "x-repeated": ["1", "2"],
      "user-agent": "kumo-suite/1",
      "x-forwarded-for": "203.0.113.7, 10.0.0.1",
    },
  });
  expect(res.status).toBe(201);
  const { event } = res.json() as { event: { headers: Record<string, string> } };
  expect(event).toMatchObject({
    rawPath: "/echo",
    rawQueryString: "a=1&a=2&b=x%20y+z&flag",
    queryStringParameters: { a: "1,2", b: "x y z", flag: "" },
    cookies: ["c1=v1", "c2=v2", "c3=v3"],
    headers: {
      cookie: "c1=v1; c2=v2; c3=v3",
      "x-mixed-case": "yes",
      "x-repeated": "1, 2",
      "user-agent": "kumo-suite/1",
    },
    requestContext: {
      http: {
        method: "GET",
        path: "/echo",
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.7",
        userAgent: "kumo-suite/1",
      },
      requestId: invocationId,
      routeKey: "$default",
      stage: "$default",
    },
    isBase64Encoded: false,
  });
  expect(event).not.toHaveProperty("body");
  expect(Object.keys(event.headers).filter((name) => name !== name.toLowerCase())).toEqual([]);
}

/**
 * Bodies: text if UTF-8 without a content type, else base64; a non-JSON event (to `events`, a
 * handler that echoes `{eventType, event}`) is passed as text.
 */
export async function expectBodyRules(
  http: Pick<RunningFunction, "request">,
  events: Pick<RunningFunction, "request">,
): Promise<void> {
  const text = await http.request({ method: "POST", path: "/invoke/echo", body: "héllo" });
  expect((text.json() as { event: unknown }).event).toMatchObject({ body: "héllo", isBase64Encoded: false });
  const bytes = await http.request({
    method: "POST",
    path: "/invoke/echo",
    body: Buffer.from([0xff, 0xfe, 0x00]),
  });
  expect((bytes.json() as { event: unknown }).event).toMatchObject({ body: "//4A", isBase64Encoded: true });
  const queued = await events.request({
    method: "POST",
    path: "/invoke",
    headers: { "kumo-event-type": "queue" },
    body: "plain message",
  });
  expect(queued.json()).toEqual({ eventType: "queue", event: "plain message" });
}

/** Results: cookies become set-cookie, multiValueHeaders repeat, an object body is JSON, bad base64 is FN_004. */
export async function expectResultRules(target: Pick<RunningFunction, "request">): Promise<void> {
  const res = await target.request({ path: "/invoke/cookies" });
  expect(res.status).toBe(202);
  expect(res.headers["set-cookie"]).toEqual(["s=1; Path=/", "t=2"]);
  expect(res.headers["x-upper"]).toBe("v");
  expect(res.headers["x-multi"]).toBe("a, b");
  expect(res.headers).not.toHaveProperty("x-null");
  expect(res.headers["content-type"]).toBe("application/json");
  expect(res.json()).toEqual({ ok: true });
  const bad = await target.request({ path: "/invoke/bad-base64" });
  expect([bad.status, bad.headers["kumo-error"]]).toEqual([500, "FN_004"]);
  expect((bad.json() as { message: string }).message).toContain("not base64");
}
