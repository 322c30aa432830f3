import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain .mjs provisioning module without types
import { ensureDocs } from "../../scripts/provision/docs.mjs";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { DOCS_DIR } from "./doc-blocks.ts";

const DIST = join(DOCS_DIR, ".vitepress/dist");

/** The built guide served by the gateway at /guide, next to the console and the API. */
describe("docs - site", () => {
  let t: TestGateway;
  beforeAll(async () => {
    // `npm test` setup builds it; a run of this file alone builds it here when stale (once, ~10 s).
    (ensureDocs as (repoRoot: string) => void)(resolve(DOCS_DIR, ".."));
    t = await startTestGateway();
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  it("docs site - /guide redirects to /guide/; pages answer at clean URLs, uncached, with a CSP", async () => {
    const bare = await t.call("GET", "/guide");
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe("/guide/");
    for (const [url, text] of [
      ["/guide/", "Getting started"],
      ["/guide/getting-started", "Your first edge function"],
      ["/guide/cron-with-secret", "REPORT_TOKEN"],
      ["/guide/reference/error-codes", "FN_006"],
      ["/guide/reference/configuration", "KUMO_DOCS_DIR"],
      ["/guide/troubleshooting.html", "Troubleshooting"],
      ["/guide/runtimes/", "How container functions run"],
      ["/guide/runtimes/edge", "What does not work on edge"],
      ["/guide/traffic", "Gradual rollouts with automatic rollback"],
      ["/guide/migrating/lambda", "Coming from AWS Lambda"],
    ] as const) {
      const res = await t.call("GET", url);
      expect(res.status, url).toBe(200);
      expect(res.headers["content-type"], url).toBe("text/html; charset=utf-8");
      expect(res.headers["cache-control"], url).toBe("no-cache");
      expect(String(res.headers["content-security-policy"]), url).toContain("default-src 'self'");
      expect(res.body, url).toContain(text);
      // Built for its prefix: its scripts and links stay under /guide, clear of the console's /assets.
      const refs = [...res.body.matchAll(/(?:src|href)="(\/[^"]*)"/g)].map((m) => m[1] ?? "");
      expect(refs.length, url).toBeGreaterThan(0);
      expect(
        refs.filter((ref) => !ref.startsWith("/guide/")),
        url,
      ).toEqual([]);
    }
  });

  it("docs site - the CSP allows exactly the page's own inline scripts, by hash", async () => {
    const res = await t.call("GET", "/guide/getting-started");
    const inline = [...res.body.matchAll(/<script id="check-dark-mode">([\s\S]*?)<\/script>/g)][0]?.[1];
    expect(inline).toBeTruthy();
    const hash = createHash("sha256")
      .update(inline ?? "")
      .digest("base64");
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain(`'sha256-${hash}'`);
    expect(csp).not.toContain("'unsafe-inline' 'sha256");
    expect(/script-src [^;]*'unsafe-inline'/.test(csp)).toBe(false);
  });

  it("docs site - hashed assets are immutable and gzipped; the offline search index is served from here", async () => {
    const files = readdirSync(join(DIST, "assets"), { recursive: true }).map(String);
    const app = files.find((f) => /^app\..*\.js$/.test(f));
    const search = files.find((f) => /localSearchIndex.*\.js$/.test(f));
    expect(app && search, files.join(" ")).toBeTruthy();
    const res = await t.call("GET", `/guide/assets/${app}`, { headers: { "accept-encoding": "gzip" } });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(res.headers["content-encoding"]).toBe("gzip");
    expect(res.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    const index = await t.call("GET", `/guide/assets/${search}`);
    expect(index.status).toBe(200);
    // minisearch's index of every page's sections, searched in the browser: no external service.
    expect(index.body.includes('"title":"A cron-triggered function with a secret"')).toBe(true);
    expect(index.body.includes('"title":"FN_006"')).toBe(true);
  });

  it("docs site - unknown pages get the guide's 404 page, unknown assets FN_001; the console and API keep their paths", async () => {
    const page = await t.call("GET", "/guide/no-such-page");
    expect(page.status).toBe(404);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    const asset = await t.call("GET", "/guide/assets/nope-123.js");
    expect(asset.status).toBe(404);
    expect(asset.json.error.code).toBe("FN_001");
    const console = await t.call("GET", "/functions/guide");
    expect(console.status).toBe(200);
    expect(console.body).not.toContain("VitePress");
    for (const url of ["/guides", "/v1/guide"]) {
      const res = await t.call("GET", url);
      expect(res.status, url).toBe(404);
      expect(res.json.error.code, url).toBe("FN_001");
    }
  });
});
