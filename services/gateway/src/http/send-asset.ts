import type { FastifyReply, FastifyRequest } from "fastify";
import type { ConsoleAsset } from "./console-assets.ts";

/** Sends one in-memory asset with its type and cache policy, gzipped when the client accepts it. */
export function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: ConsoleAsset, cache: string) {
  reply.type(asset.type).header("cache-control", cache).header("x-content-type-options", "nosniff");
  reply.header("vary", "accept-encoding");
  const accepts = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
  const gz = accepts ? asset.gzipped() : undefined;
  if (gz) return reply.header("content-encoding", "gzip").send(gz);
  return reply.send(asset.body);
}

/** Text for the HTML of the built-in "not built" pages. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The Content-Security-Policy of the gateway's own pages (console, guide): everything from this
 * origin, inline styles allowed (Monaco, uPlot, VitePress), inline scripts only by the hashes given.
 */
export function pageSecurityPolicy(options: { scriptHashes?: string[]; workers?: boolean } = {}): string {
  const scripts = ["'self'", ...(options.scriptHashes ?? []).map((h) => `'sha256-${h}'`)].join(" ");
  return [
    "default-src 'self'",
    `script-src ${scripts}`,
    ...(options.workers ? ["worker-src 'self' blob:"] : []),
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join("; ");
}
