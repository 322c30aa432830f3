import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JwksFetcher } from "./jwks-fetcher.ts";

describe("jwks fetcher", () => {
  let url = "";
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === "/big") {
      res.end(JSON.stringify({ keys: [{ kty: "RSA", n: "x".repeat(300_000) }] }));
      return;
    }
    res.writeHead(req.url === "/missing" ? 404 : 200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "abc", kid: "k1" }] }));
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("jwks fetcher - refuses loopback and names that resolve to private addresses, sending nothing", async () => {
    const fetcher = new JwksFetcher({
      allowPrivate: false,
      timeoutMs: 2000,
      resolve: async (host) => (host === "keys.internal.test" ? ["10.1.2.3"] : ["169.254.169.254"]),
    });
    const before = hits;
    await expect(fetcher.fetch(`${url}/jwks`)).rejects.toThrow(/KUMO_JWKS_ALLOW_PRIVATE/);
    await expect(fetcher.fetch("http://keys.internal.test/jwks")).rejects.toThrow(/10\.1\.2\.3/);
    await expect(fetcher.fetch("http://metadata.test/jwks")).rejects.toThrow(/refused/);
    expect(hits).toBe(before);
  });

  it("jwks fetcher - with private addresses allowed: fetches a key set, refuses non-200, oversized and non-sets", async () => {
    const fetcher = new JwksFetcher({ allowPrivate: true, timeoutMs: 2000 });
    const set = await fetcher.fetch(`${url}/jwks`);
    expect(set.keys[0]?.kid).toBe("k1");
    await expect(fetcher.fetch(`${url}/missing`)).rejects.toThrow(/404/);
    await expect(fetcher.fetch(`${url}/big`)).rejects.toThrow(/larger than/);
  });
});
