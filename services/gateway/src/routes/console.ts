import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { GatewayContext } from "../context.ts";
import { ConsoleAssets } from "../http/console-assets.ts";
import { escapeHtml, pageSecurityPolicy, sendAsset } from "../http/send-asset.ts";

/**
 * The console's own client-side routes: each serves index.html, so a deep link or a reload lands
 * on the view it names. Listed one by one rather than a catch-all, so /v1, /fn, /git, /docs and
 * typos keep their API answers (404 FN_001 as JSON).
 */
export const CONSOLE_PAGES = [
  "/",
  "/signin",
  "/new",
  "/secrets",
  "/keys",
  "/alerts",
  "/tenants",
  "/functions",
  "/functions/*",
] as const;

/**
 * Everything it loads comes from this gateway: Monaco's workers run from same-origin blobs or
 * files, styles are inline (Monaco, uPlot), and the API is same-origin.
 */
const CONTENT_SECURITY_POLICY = pageSecurityPolicy({ workers: true });

/** The web console (packages/console, built by Vite) at `/`, with its hashed assets cached forever. */
export function consoleRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  const assets = new ConsoleAssets(ctx.config.consoleDir);
  return async (app) => {
    const page = async (request: FastifyRequest, reply: FastifyReply) => {
      const index = assets.get("index.html");
      if (!index) {
        reply.type("text/html; charset=utf-8").header("cache-control", "no-cache");
        return notBuiltPage(ctx.publicUrl(), assets.dir);
      }
      reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
      reply.header("x-frame-options", "DENY");
      reply.header("referrer-policy", "no-referrer");
      return sendAsset(request, reply, index, "no-cache");
    };
    for (const path of CONSOLE_PAGES) app.get(path, { schema: { hide: true } }, page);

    // Vite writes its assets flat into assets/, so one segment names any of them.
    app.get("/assets/:file", { schema: { hide: true } }, async (request, reply) => {
      const path = (request.params as { file: string }).file;
      const asset = assets.get(`assets/${path}`);
      if (!asset) {
        return reply
          .status(404)
          .header("cache-control", "no-cache")
          .send({ error: { code: "FN_001", message: `console asset "${path}" not found` } });
      }
      return sendAsset(request, reply, asset, "public, max-age=31536000, immutable");
    });
  };
}

function notBuiltPage(url: string, dir: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Kumo</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto">
<h1>Kumo</h1><p>The web console is not built (no <code>${escapeHtml(dir)}/index.html</code>).
<code>npm start</code> builds it; or run <code>npm run build -w @kumo/console</code>.</p>
<ul><li><a href="/docs">API reference (OpenAPI)</a></li><li>Functions at <code>${escapeHtml(url)}/fn/&lt;tenant&gt;/&lt;function&gt;/</code></li></ul>
</body></html>`;
}
