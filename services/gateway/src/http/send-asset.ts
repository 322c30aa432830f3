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
