import { describe, expect, it } from "vitest";
import { batchItemFailures } from "./batch-failures.ts";

const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe("batch item failures", () => {
  it("batch item failures - the ids the function names fail, the others succeed", () => {
    const result = batchItemFailures(body({ batchItemFailures: [{ itemIdentifier: "b" }] }), ["a", "b", "c"]);
    expect(result).toEqual({ failed: new Set(["b"]) });
  });

  it("batch item failures - any other answer means every message succeeded", () => {
    for (const answer of [null, Buffer.from("ok"), body({ ok: true }), body({ batchItemFailures: [] })]) {
      expect(batchItemFailures(answer, ["a"])).toEqual({ failed: new Set() });
    }
  });

  it("batch item failures - an unknown or empty identifier fails the whole batch", () => {
    expect(batchItemFailures(body({ batchItemFailures: [{ itemIdentifier: "zz" }] }), ["a"])).toMatchObject({
      all: true,
    });
    expect(batchItemFailures(body({ batchItemFailures: [{ itemIdentifier: "" }] }), ["a"])).toMatchObject({
      all: true,
    });
    expect(batchItemFailures(body({ batchItemFailures: "a" }), ["a"])).toMatchObject({ all: true });
  });
});
