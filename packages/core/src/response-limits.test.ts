import { describe, expect, it } from "vitest";
import { checkFunctionResponse, RESPONSE_LIMITS } from "./response-limits.ts";

describe("checkFunctionResponse", () => {
  it("status - an interim (1xx), out-of-range or non-integer status is FN_004 naming the value", () => {
    for (const status of [100, 101, 102, 103, 199, 600, 1000, "1e3", -1, 200.5, 0, Number.NaN, "200"]) {
      const problem = checkFunctionResponse(status, []);
      expect(problem?.code, String(status)).toBe("FN_004");
      expect(problem?.message).toContain(
        `status ${typeof status === "string" ? JSON.stringify(status) : status};`,
      );
    }
    for (const status of [200, 204, 301, 404, 599]) expect(checkFunctionResponse(status, [])).toBeUndefined();
  });

  it("headers - over the count or the byte limit is FN_010; at the limits passes", () => {
    const pairs = (n: number): [string, string][] => Array.from({ length: n }, (_, i) => [`h${i}`, "v"]);
    const framing: [string, string][] = [
      ["Connection", "keep-alive"],
      ["keep-alive", "timeout=5"],
      ["content-length", "1"],
    ];
    expect(checkFunctionResponse(200, [...pairs(RESPONSE_LIMITS.headers), ...framing])).toBeUndefined();
    expect(checkFunctionResponse(200, pairs(RESPONSE_LIMITS.headers + 1))?.code).toBe("FN_010");
    expect(checkFunctionResponse(200, pairs(100_000))).toMatchObject({
      code: "FN_010",
      message: expect.stringContaining("100000 headers"),
    });
    // "x: <value>\r\n" is 5 bytes plus the value.
    const atLimit = "a".repeat(RESPONSE_LIMITS.headerBytes - 5);
    expect(checkFunctionResponse(200, [["x", atLimit]])).toBeUndefined();
    expect(checkFunctionResponse(200, [["x", `${atLimit}a`]])?.code).toBe("FN_010");
    expect(checkFunctionResponse(200, [["x", "a".repeat(10 * 1024 * 1024)]])).toMatchObject({
      code: "FN_010",
      message: expect.stringContaining(`limit is ${RESPONSE_LIMITS.headerBytes} bytes`),
    });
  });
});
