import { describe, expect, it } from "vitest";
import { cidrList, clientAddress, forwardedHops, listHas } from "./client-address.ts";

describe("client address", () => {
  const proxies = cidrList(["10.0.0.0/8", "::1"]);

  it("client address - the socket peer, X-Forwarded-For ignored unless the peer is a trusted proxy", () => {
    expect(clientAddress("203.0.113.9", "198.51.100.1", undefined)).toBe("203.0.113.9");
    expect(clientAddress("203.0.113.9", "198.51.100.1", proxies)).toBe("203.0.113.9");
    expect(clientAddress("::ffff:203.0.113.9", undefined, proxies)).toBe("203.0.113.9");
  });

  it("client address - read from the right, skipping trusted proxies; a forged left part is not believed", () => {
    expect(clientAddress("10.0.0.2", "198.51.100.1", proxies)).toBe("198.51.100.1");
    expect(clientAddress("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.7", proxies)).toBe("198.51.100.1");
    expect(clientAddress("::1", ["192.0.2.5", "10.0.0.3"], proxies)).toBe("192.0.2.5");
    // Garbage in the chain: the last address a trusted proxy vouched for is the client.
    expect(clientAddress("10.0.0.2", "nonsense, 10.0.0.9", proxies)).toBe("10.0.0.9");
  });

  it("forwarded hops - the trusted chain, client first and peer last; what the client wrote left of it is dropped", () => {
    expect(forwardedHops("203.0.113.9", "198.51.100.1", proxies)).toEqual(["203.0.113.9"]);
    expect(forwardedHops("10.0.0.2", "198.51.100.1", undefined)).toEqual(["10.0.0.2"]);
    expect(forwardedHops("10.0.0.2", undefined, proxies)).toEqual(["10.0.0.2"]);
    expect(forwardedHops("10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.7", proxies)).toEqual([
      "198.51.100.1",
      "10.0.0.7",
      "10.0.0.2",
    ]);
    expect(forwardedHops("::ffff:10.0.0.2", ["::ffff:192.0.2.5"], proxies)).toEqual([
      "192.0.2.5",
      "10.0.0.2",
    ]);
    expect(forwardedHops("10.0.0.2", "1.2.3.4, nonsense, 10.0.0.9", proxies)).toEqual([
      "10.0.0.9",
      "10.0.0.2",
    ]);
    expect(forwardedHops("::1", "10.0.0.3, 10.0.0.4", proxies)).toEqual(["10.0.0.3", "10.0.0.4", "::1"]);
  });

  it("forwarded hops - the first hop is always clientAddress's answer", () => {
    for (const [peer, header] of [
      ["203.0.113.9", "198.51.100.1"],
      ["10.0.0.2", undefined],
      ["10.0.0.2", ""],
      ["10.0.0.2", "1.2.3.4, 198.51.100.1, 10.0.0.7"],
      ["10.0.0.2", "nonsense, 10.0.0.9"],
      ["::1", ["192.0.2.5", "10.0.0.3"]],
    ] as const) {
      const mutable = Array.isArray(header) ? [...header] : (header as string | undefined);
      expect(forwardedHops(peer, mutable, proxies)[0]).toBe(clientAddress(peer, mutable, proxies));
    }
  });

  it("client address - CIDR lists match IPv4, IPv6 and IPv4-mapped forms", () => {
    const list = cidrList(["203.0.113.0/24", "2001:db8::/32", "192.0.2.7"]);
    expect(listHas(list, "203.0.113.200")).toBe(true);
    expect(listHas(list, "203.0.114.1")).toBe(false);
    expect(listHas(list, "2001:db8:1::5")).toBe(true);
    expect(listHas(list, "192.0.2.7")).toBe(true);
    expect(listHas(list, "192.0.2.8")).toBe(false);
    expect(listHas(list, "not-an-ip")).toBe(false);
  });
});
