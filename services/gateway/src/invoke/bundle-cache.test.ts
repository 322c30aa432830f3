import { describe, expect, it } from "vitest";
import { BundleCache } from "./bundle-cache.ts";

const files = (text: string) => new Map([["index.ts", Buffer.from(text)]]);

describe("bundle cache", () => {
  it("bundle cache - keyed by tenant, entry and content; least recently used goes first; bounded in bytes", () => {
    expect(BundleCache.key("t1", undefined, files("a"))).toBe(BundleCache.key("t1", undefined, files("a")));
    expect(BundleCache.key("t1", undefined, files("a"))).not.toBe(
      BundleCache.key("t2", undefined, files("a")),
    );
    expect(BundleCache.key("t1", undefined, files("a"))).not.toBe(BundleCache.key("t1", "x.ts", files("a")));
    expect(BundleCache.key("t1", undefined, files("a"))).not.toBe(
      BundleCache.key("t1", undefined, files("b")),
    );
    const cache = new BundleCache({ maxEntries: 2, maxBytes: 10 });
    cache.set("a", "1");
    cache.set("b", "2");
    expect(cache.get("a")).toBe("1");
    cache.set("c", "3");
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual(["1", undefined, "3"]);
    cache.set("big", "0123456789");
    expect([cache.get("a"), cache.get("c"), cache.get("big")]).toEqual([undefined, undefined, "0123456789"]);
    cache.set("huge", "01234567890");
    expect(cache.get("huge")).toBeUndefined();
  });
});
