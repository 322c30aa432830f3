import type { CorsSettings } from "@kumo/core";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * CORS for a function's HTTP endpoints. The gateway answers preflights itself (the function never
 * sees them) and adds the allow headers to actual responses — set on the raw response, so they
 * reach both the function's answers (written straight to the socket) and the gateway's own errors.
 */
export function allowedOrigin(settings: CorsSettings, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  if (settings.origins.includes(origin)) return origin;
  return settings.origins.includes("*") ? "*" : undefined;
}

/** True when the request is a preflight this gateway answered (the caller returns the reply). */
export function answerPreflight(
  settings: CorsSettings,
  request: FastifyRequest,
  reply: FastifyReply,
): boolean {
  const requestMethod = request.headers["access-control-request-method"];
  if (request.method !== "OPTIONS" || typeof requestMethod !== "string") return false;
  const origin = allowedOrigin(settings, request.headers.origin);
  const headers: Record<string, string> = {
    vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
  };
  // A refused preflight is a 204 without allow headers: the browser then blocks the request.
  if (origin && (settings.methods as readonly string[]).includes(requestMethod.toUpperCase())) {
    headers["access-control-allow-origin"] = origin;
    headers["access-control-allow-methods"] = settings.methods.join(", ");
    if (settings.headers.length > 0) headers["access-control-allow-headers"] = settings.headers.join(", ");
    if (settings.credentials) headers["access-control-allow-credentials"] = "true";
    headers["access-control-max-age"] = String(Math.floor(settings.maxAge / 1000));
  }
  reply.hijack();
  reply.raw.writeHead(204, headers);
  reply.raw.end();
  return true;
}

/** Adds the allow headers for an actual (non-preflight) cross-origin request. */
export function applyCors(settings: CorsSettings, request: FastifyRequest, reply: FastifyReply): void {
  const origin = allowedOrigin(settings, request.headers.origin);
  reply.raw.setHeader("vary", "Origin");
  if (!origin) return;
  reply.raw.setHeader("access-control-allow-origin", origin);
  if (settings.credentials) reply.raw.setHeader("access-control-allow-credentials", "true");
  if (settings.exposeHeaders.length > 0)
    reply.raw.setHeader("access-control-expose-headers", settings.exposeHeaders.join(", "));
}
