import { createHash } from "node:crypto";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { GatewayContext } from "../context.ts";
import { type ConsoleAsset, ConsoleAssets } from "../http/console-assets.ts";
import { escapeHtml, pageSecurityPolicy, sendAsset } from "../http/send-asset.ts";

/** The prefix the guide is built for (VitePress `base` in docs/.vitepress/config.mts). */
export const GUIDE_PREFIX = "/guide";

/**
 * The documentation site (docs/, built by VitePress) at /guide/, from the same in-memory asset
 * store as the console. Pages use clean URLs (`/guide/triggers` is `triggers.html`); hashed files
 * under assets/ cache forever. Only paths under /guide reach it, so the console's pages and the
 * API's 404s are untouched.
 */
export function guideRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  const assets = new ConsoleAssets(ctx.config.docsDir);
  const policies = new WeakMap<ConsoleAsset, string>();
  const policyOf = (page: ConsoleAsset) => {
    let policy = policies.get(page);
    if (!policy) {
      policy = contentSecurityPolicy(page.body.toString("utf8"));
      policies.set(page, policy);
    }
    return policy;
  };

  return async (app) => {
    app.get(GUIDE_PREFIX, { schema: { hide: true } }, async (_request, reply) =>
      reply.redirect(`${GUIDE_PREFIX}/`, 301),
    );
    app.get(`${GUIDE_PREFIX}/*`, { schema: { hide: true } }, async (request, reply) => {
      const path = (request.params as { "*": string })["*"];
      if (!assets.built) {
        reply.status(404).type("text/html; charset=utf-8").header("cache-control", "no-cache");
        return notBuiltPage(assets.dir);
      }
      if (path.startsWith("assets/")) {
        const asset = assets.get(path);
        if (asset) return sendAsset(request, reply, asset, "public, max-age=31536000, immutable");
        return reply
          .status(404)
          .header("cache-control", "no-cache")
          .send({ error: { code: "FN_001", message: `guide asset "${path}" not found` } });
      }
      const found = pageOrFile(assets, path);
      const asset = found ?? assets.get("404.html");
      if (!asset) {
        return reply
          .status(404)
          .send({ error: { code: "FN_001", message: `guide page "${path}" not found` } });
      }
      if (!found) reply.status(404);
      if (asset.type.startsWith("text/html")) {
        reply.header("content-security-policy", policyOf(asset));
        reply.header("x-frame-options", "DENY");
        reply.header("referrer-policy", "no-referrer");
      }
      return sendAsset(request, reply, asset, "no-cache");
    });
  };
}

/** A built file by its path, or the page a clean URL names (`triggers` → `triggers.html`). */
function pageOrFile(assets: ConsoleAssets, path: string): ConsoleAsset | undefined {
  if (path === "" || path.endsWith("/")) return assets.get(`${path}index.html`);
  return assets.get(path) ?? assets.get(`${path}.html`) ?? assets.get(`${path}/index.html`);
}

/**
 * VitePress pages carry a few inline scripts (the theme's dark-mode check, the page hash map): each
 * is allowed by its hash, so no other inline script runs.
 */
function contentSecurityPolicy(html: string): string {
  const scriptHashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) =>
    createHash("sha256")
      .update(m[1] ?? "")
      .digest("base64"),
  );
  return pageSecurityPolicy({ scriptHashes });
}

function notBuiltPage(dir: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Kumo guide</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto">
<h1>Kumo guide</h1><p>The guide is not built (no <code>${escapeHtml(dir)}/index.html</code>).
<code>npm start</code> builds it; or run <code>npm run build -w @kumo/docs</code>. Its Markdown is in <code>docs/</code>.</p>
<p><a href="/docs">API reference (OpenAPI)</a></p></body></html>`;
}
