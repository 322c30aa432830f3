import { describe, expect, it } from "vitest";
import { hostnameProblem, hostOf } from "./hostname.ts";

describe("hostname", () => {
  it("hostname - accepts lowercase DNS names outside the apps domain", () => {
    for (const h of [
      "api.example.com",
      "a.b.c.example.co.uk",
      "x-1.example.io",
      "kumo.localhost.example.com",
    ])
      expect(hostnameProblem(h, "kumo.localhost"), h).toBeUndefined();
  });

  it("hostname - refuses uppercase, IPs, bad labels, single labels and the apps domain", () => {
    const cases: [string, RegExp][] = [
      ["API.example.com", /lowercase/],
      ["127.0.0.1", /IP/],
      ["::1", /IP|label/],
      ["[::1]", /IP/],
      ["localhost", /two labels/],
      ["-a.example.com", /label/],
      ["a_b.example.com", /label/],
      ["a..example.com", /label/],
      ["example.123", /numeric/],
      [`${"a".repeat(64)}.example.com`, /label/],
      ["kumo.localhost", /apps domain/],
      ["acme.kumo.localhost", /apps domain/],
      ["", /characters/],
    ];
    for (const [h, message] of cases) expect(hostnameProblem(h, "kumo.localhost"), h).toMatch(message);
  });

  it("hostname - hostOf strips the port and trailing dot and lowercases", () => {
    expect(hostOf("Api.Example.com:8443")).toBe("api.example.com");
    expect(hostOf("api.example.com.")).toBe("api.example.com");
    expect(hostOf("[::1]:80")).toBe("[::1]");
    expect(hostOf(undefined)).toBe("");
  });
});
