import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

const DIST = join(import.meta.dirname, "../../packages/console/dist");

/** Needs the built console (test/console/build-console.ts or `npm test` provisioning builds it). */
describe("console assets", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("console - pages serve index.html uncached with a CSP; client routes deep-link", async () => {
    for (const url of ["/", "/functions", "/functions/hello/code", "/secrets", "/signin", "/new"]) {
      const res = await t.call("GET", url);
      expect(res.status, url).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(String(res.headers["content-security-policy"])).toContain("default-src 'self'");
      expect(res.body).toContain('<div id="app">');
    }
  });

  it("console - hashed assets are immutable, gzipped on request, with their content types", async () => {
    const files = readdirSync(join(DIST, "assets"));
    const js = files.find((f) => /^index-.*\.js$/.test(f));
    const font = files.find((f) => f.endsWith(".ttf"));
    expect(js && font).toBeTruthy();
    const res = await t.call("GET", `/assets/${js}`, { headers: { "accept-encoding": "gzip" } });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(res.headers["content-encoding"]).toBe("gzip");
    expect(res.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect((await t.call("GET", `/assets/${font}`)).headers["content-type"]).toBe("font/ttf");
    const missing = await t.call("GET", "/assets/nope-123.js");
    expect(missing.status).toBe(404);
  });

  it("console - no SPA fallback under the API, invocation and docs prefixes", async () => {
    for (const url of ["/v1/nothing", "/fn", "/git/x", "/nothing-here"]) {
      const res = await t.call("GET", url);
      expect(res.status, url).toBe(404);
      expect(res.json.error.code, url).toBe("FN_001");
    }
  });
});
