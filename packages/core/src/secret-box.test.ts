import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretBox } from "./secret-box.ts";

describe("secret box", () => {
  const box = new SecretBox(randomBytes(32));

  it("secret box - round-trips and never contains the plaintext", () => {
    const sealed = box.seal("hunter2-very-secret", "ten_a/TOKEN");
    expect(Buffer.from(sealed).includes(Buffer.from("hunter2"))).toBe(false);
    expect(box.open(sealed, "ten_a/TOKEN")).toBe("hunter2-very-secret");
  });

  it("secret box - refuses a value moved to another tenant or name", () => {
    const sealed = box.seal("v", "ten_a/TOKEN");
    expect(() => box.open(sealed, "ten_b/TOKEN")).toThrow();
  });

  it("secret box - refuses a value sealed with another master key", () => {
    const sealed = new SecretBox(randomBytes(32)).seal("v", "c");
    expect(() => box.open(sealed, "c")).toThrow();
  });

  it("secret box - rejects a master key of the wrong size", () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});
