import { describe, expect, it } from "vitest";
import {
  errorResult,
  failureOf,
  fromShimResponse,
  HOP_BY_HOP_HEADERS,
  headerPairs,
} from "./invocation-result.ts";

const text = (body: unknown) => Buffer.from(body as Uint8Array).toString("utf8");
const head = (status: number, headers: [string, string][] = []) => ({
  status,
  headers,
  coldStart: "warm" as const,
  queueMs: 0,
});

describe("invocation result", () => {
  it("invocation result - a failure is the error envelope with its code's status; a function's details stay out of the body", () => {
    const platform = errorResult({ code: "FN_007", message: "busy", details: { limit: 2 } }, "cold", 5);
    expect([platform.status, platform.coldStart, platform.queueMs]).toEqual([429, "cold", 5]);
    expect(JSON.parse(text(platform.body))).toEqual({
      error: { code: "FN_007", message: "busy", details: { limit: 2 } },
    });
    const thrown = errorResult({ code: "FN_004", message: "boom", details: { stack: "at fn" } });
    expect(JSON.parse(text(thrown.body))).toEqual({ error: { code: "FN_004", message: "boom" } });
    expect(thrown.error.details).toEqual({ stack: "at fn" });
  });

  it("invocation result - a shim's kumo-error envelope is recorded with its code and message; other 5xx only fail async runs", () => {
    const body = Buffer.from(JSON.stringify({ code: "FN_004", message: "Error: x", stack: "" }));
    const shim = fromShimResponse(head(500, [["kumo-error", "FN_004"]]), body);
    expect(shim.error).toEqual({ code: "FN_004", message: "Error: x" });
    const withStack = Buffer.from(
      JSON.stringify({ code: "FN_004", message: "x", stack: "Error: x\n  at f" }),
    );
    const thrown = fromShimResponse(head(500, [["kumo-error", "FN_004"]]), withStack);
    expect(JSON.parse(text(thrown.body as Uint8Array))).toEqual({ error: { code: "FN_004", message: "x" } });
    expect(thrown.error).toEqual({ code: "FN_004", message: "x", details: { stack: "Error: x\n  at f" } });
    const step = fromShimResponse(
      head(500, [
        ["kumo-error", "FN_004"],
        ["kumo-step", "1"],
      ]),
      withStack,
    );
    expect(step.body).toBe(withStack);
    const plain = fromShimResponse(head(503), Buffer.from("down"));
    expect(plain.error).toBeUndefined();
    expect(failureOf(plain, Buffer.from("down"))).toEqual({
      code: "FN_004",
      message: "the function answered 503",
    });
    expect(failureOf(fromShimResponse(head(200), body), body)).toBeUndefined();
  });

  it("invocation result - raw headers become lower-case pairs, repeated names kept, per-hop ones dropped on request", () => {
    const raw = [
      "Content-Type",
      "text/plain",
      "Set-Cookie",
      "a=1",
      "Set-Cookie",
      "b=2",
      "Content-Length",
      "3",
    ];
    expect(headerPairs(raw, HOP_BY_HOP_HEADERS)).toEqual([
      ["content-type", "text/plain"],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
    ]);
    expect(headerPairs(raw).at(-1)).toEqual(["content-length", "3"]);
  });
});
