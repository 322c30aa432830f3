import { describe, expect, it } from "vitest";
import { SubtleBridge, subtleFailure } from "./subtle-bridge.ts";

describe("subtle bridge - key handles and limits", () => {
  it("subtle bridge - keys become handles, are used by handle and freed by drop", async () => {
    const bridge = new SubtleBridge();
    const key = (await bridge.call("generateKey", [{ name: "HMAC", hash: "SHA-256" }, false, ["sign"]])) as {
      __kumoKey: number;
      type: string;
      algorithm: { name: string };
    };
    expect([key.type, key.algorithm.name, bridge.size]).toEqual(["secret", "HMAC", 1]);
    const signature = await bridge.call("sign", ["HMAC", { __kumoKey: key.__kumoKey }, new Uint8Array([1])]);
    expect((signature as ArrayBuffer).byteLength).toBe(32);
    bridge.drop(key.__kumoKey);
    expect(bridge.size).toBe(0);
    const gone = await bridge
      .call("sign", ["HMAC", { __kumoKey: key.__kumoKey }, new Uint8Array([1])])
      .catch((error: unknown) => subtleFailure(error));
    expect(gone).toEqual({ name: "InvalidAccessError", message: "Unknown CryptoKey" });
  });

  it("subtle bridge - methods outside SubtleCrypto and oversized RSA keys are refused", async () => {
    const bridge = new SubtleBridge();
    const bad = await bridge.call("constructor", []).catch((error: unknown) => subtleFailure(error));
    expect(bad).toEqual({ name: "NotSupportedError", message: "crypto.subtle.constructor is not supported" });
    const rsa = await bridge
      .call("generateKey", [
        { name: "RSA-PSS", modulusLength: 8192, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
        false,
        ["sign"],
      ])
      .catch((error: unknown) => subtleFailure(error));
    expect(rsa).toEqual({ name: "NotSupportedError", message: "RSA keys are limited to 4096 bits" });
  });

  it("subtle bridge - 16 calls of one isolate run at once, 1,024 more wait their turn, beyond that refused", async () => {
    const bridge = new SubtleBridge();
    const calls = Array.from({ length: 16 + 1024 + 1 }, (_, i) =>
      bridge.call("digest", ["SHA-256", new Uint8Array([i % 256])]).then(
        () => "ok",
        (error: unknown) => subtleFailure(error).name,
      ),
    );
    const results = await Promise.all(calls);
    // A Promise.all of many verifications is ordinary code: the queued calls all complete.
    expect(results.filter((r) => r === "ok")).toHaveLength(16 + 1024);
    expect(results.at(-1)).toBe("QuotaExceededError");
    expect(await bridge.call("digest", ["SHA-256", new Uint8Array(1)]).then(() => "ok")).toBe("ok");
  });
});
