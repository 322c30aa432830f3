import { describe, expect, it } from "vitest";
import { isAllowedHost, isRestrictedAddress } from "./address-policy.ts";

describe("address policy", () => {
  it("address policy - refuses loopback, private, link-local, CGNAT, metadata and embedded forms", () => {
    for (const address of [
      "127.0.0.1",
      "127.9.9.9",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fc00::1",
      "fd00:ec2::254",
      "fe80::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:169.254.169.254",
      "64:ff9b::a9fe:a9fe",
      "2002:a00:1::",
      "not-an-ip",
    ]) {
      expect(isRestrictedAddress(address), address).toBe(true);
    }
  });

  it("address policy - lets public addresses through", () => {
    for (const address of [
      "93.184.216.34",
      "1.1.1.1",
      "172.32.0.1",
      "2606:4700:4700::1111",
      "::ffff:8.8.8.8",
    ]) {
      expect(isRestrictedAddress(address), address).toBe(false);
    }
  });

  it("address policy - allow list matches exact hosts and *.suffix", () => {
    expect(isAllowedHost("api.internal", ["api.internal"])).toBe(true);
    expect(isAllowedHost("a.svc.local", ["*.svc.local"])).toBe(true);
    expect(isAllowedHost("svc.local", ["*.svc.local"])).toBe(false);
    expect(isAllowedHost("evil.com", ["api.internal"])).toBe(false);
  });
});
