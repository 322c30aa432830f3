import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { contextOf, spanContextOf, traceIdOf } from "./trace-context.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("telemetry - trace context", () => {
  it("telemetry - a valid traceparent becomes the remote parent", () => {
    const parent = spanContextOf(`00-${TRACE}-${SPAN}-01`);
    expect(parent).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(trace.getSpanContext(contextOf(`00-${TRACE}-${SPAN}-01`))?.spanId).toBe(SPAN);
  });

  it("telemetry - malformed or all-zero ids start a new trace", () => {
    for (const bad of [
      undefined,
      "",
      "00-xyz-abc-01",
      `00-${"0".repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
    ]) {
      expect(spanContextOf(bad)).toBeUndefined();
      expect(trace.getSpanContext(contextOf(bad))).toBeUndefined();
    }
  });

  it("telemetry - records store the trace id, or null", () => {
    expect(traceIdOf(`00-${TRACE}-${SPAN}-00`)).toBe(TRACE);
    expect(traceIdOf(undefined)).toBeNull();
    expect(traceIdOf("garbage")).toBeNull();
    expect(traceIdOf(`00-${"0".repeat(32)}-${SPAN}-01`)).toBeNull();
  });
});
