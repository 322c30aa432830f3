import { Readable } from "node:stream";
import { headers as H } from "@kumo/bus";
import {
  type FunctionConfig,
  type InvocationRequest,
  invalid,
  KumoError,
  notFound,
  RESOURCE_NAME,
} from "@kumo/core";
import { ATTR, invocationAttributes } from "@kumo/telemetry";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { callerGone } from "../http/caller-gone.ts";
import { acceptRawBodies } from "../http/raw-bodies.ts";
import { traceStep } from "../http/request-tracing.ts";
import type { Enqueued } from "../invoke/async-queue.ts";
import { setForwardedHeaders } from "../invoke/forwarded-headers.ts";
import type { ResolvedFunction } from "../invoke/function-resolver.ts";
import { toInvocationRequest } from "../invoke/to-invocation-request.ts";
import { admitInvocation } from "../limits/admit-invocation.ts";
import type { Release } from "../limits/tenant-quotas.ts";

const ADDRESS = /^[a-z][a-z0-9-]{0,62}(@[a-z0-9][a-z0-9-]{0,62})?$/;
const RESPONSE_SKIP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/**
 * Invocation routes: the management `POST /v1/functions/:name/invoke` (an invoker key) and the
 * public `/fn/:tenant/:function[@alias|@vN]/*`. Bodies reach the function as raw bytes.
 */
export function invokeRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    acceptRawBodies(app, ctx.config.bodyLimitBytes);

    app.post(
      "/v1/functions/:name/invoke",
      {
        bodyLimit: ctx.config.bodyLimitBytes,
        schema: {
          tags: ["invocations"],
          summary: "Invoke synchronously; the function's response is returned as is",
          params: z.object({
            name: z.string().regex(ADDRESS, "must be a function name, optionally with @alias or @vN"),
          }),
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "invoke");
        const resolved = await traceStep(request, "resolve", () =>
          ctx.resolver.resolve(
            store.tenantId,
            principal.tenantName,
            request.params.name,
            stickyKeyOf(request),
          ),
        );
        const admitted = await ctx.guard.admit(request, reply, resolved, "api");
        if (!admitted) return reply;
        return invoke(ctx, request, reply, resolved, "api", "/", true, admitted.headers);
      },
    );

    const publicHandler = async (
      request: FastifyRequest<{ Params: { tenant: string; fn: string; "*"?: string } }>,
      reply: FastifyReply,
    ) => {
      const { tenant, fn } = request.params;
      if (!RESOURCE_NAME.test(tenant) || !ADDRESS.test(fn)) throw notFound(`function "${fn}"`);
      const resolved = await traceStep(request, "resolve", async () =>
        ctx.resolver.resolve(await ctx.resolver.tenantId(tenant), tenant, fn, stickyKeyOf(request)),
      );
      const admitted = await ctx.guard.admit(request, reply, resolved, "http");
      if (!admitted) return reply;
      const path = `/${request.params["*"] ?? ""}`;
      return invoke(
        ctx,
        request,
        reply,
        resolved,
        "http",
        path,
        admitted.stripAuthorization,
        admitted.headers,
        `/fn/${tenant}/${fn}`,
      );
    };
    const publicRoute = { bodyLimit: ctx.config.bodyLimitBytes, schema: { hide: true } };
    app.all("/fn/:tenant/:fn", publicRoute, publicHandler);
    app.all("/fn/:tenant/:fn/*", publicRoute, publicHandler);
  };
}

/** Runs one HTTP invocation and writes the function's response; shared by /fn, /v1 invoke and routes. */
export async function invoke(
  ctx: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  resolved: ResolvedFunction,
  trigger: "api" | "http",
  path: string,
  stripAuthorization: boolean,
  /** Headers the platform adds (after the client's kumo-* headers were dropped). */
  extraHeaders?: Record<string, string>,
  /** The part of the client's path the function does not see (X-Forwarded-Prefix); "" for none. */
  prefix = "",
): Promise<FastifyReply> {
  const invocationType = request.headers[H.invocationType];
  if (invocationType !== undefined && invocationType !== "async" && invocationType !== "sync") {
    throw invalid(`${H.invocationType} must be "sync" or "async", not "${String(invocationType)}"`);
  }
  // Tenant quotas: invocations per day for every invocation, a concurrency slot for sync ones.
  const admitted = admitInvocation(ctx.quotas, reply, resolved.tenantId, invocationType !== "async");
  const release = admitted instanceof Promise ? await admitted : admitted;
  try {
    return await invokeAdmitted(
      ctx,
      request,
      reply,
      resolved,
      trigger,
      path,
      stripAuthorization,
      extraHeaders,
      prefix,
      release,
    );
  } catch (error) {
    release();
    throw error;
  }
}

/** The invocation after its tenant quotas admitted it; `release` frees its concurrency slot. */
async function invokeAdmitted(
  ctx: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  resolved: ResolvedFunction,
  trigger: "api" | "http",
  path: string,
  stripAuthorization: boolean,
  extraHeaders: Record<string, string> | undefined,
  prefix: string,
  release: Release,
): Promise<FastifyReply> {
  const invocationType = request.headers[H.invocationType];
  const queryAt = request.url.indexOf("?");
  const trace = request.trace;
  const invocation = toInvocationRequest({
    trigger,
    method: request.method,
    path,
    query: queryAt < 0 ? "" : request.url.slice(queryAt + 1),
    headers: request.headers,
    body: request.body,
    config: resolved.version.config as FunctionConfig,
    stripAuthorization,
    traceparent: trace?.traceparent,
  });
  if (trace?.recording) {
    trace.span.setAttributes(
      invocationAttributes({
        tenantId: resolved.tenantId,
        functionId: resolved.fn.id,
        versionId: resolved.version.id,
        version: resolved.version.version,
      }),
    );
    trace.span.setAttribute(ATTR.faasInvokedName, resolved.fn.name);
    trace.span.setAttribute(ATTR.faasInvocationId, invocation.invocationId);
  }
  setForwardedHeaders(invocation.headers, request, ctx.config.trustedProxies, prefix);
  if (extraHeaders) Object.assign(invocation.headers, extraHeaders);
  if (invocationType === "async") {
    const queued = await enqueueAsync(ctx, request, resolved, invocation, "async invocations");
    // Written straight to the socket, as sync responses are: fastify's reply pipeline was a tenth
    // of the gateway's CPU per queued invocation.
    const json = JSON.stringify({
      invocationId: queued.invocationId,
      status: "queued",
      replay: queued.replay,
    });
    const headers: Record<string, string> = {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(json)),
      [H.invocationId]: queued.invocationId,
      [H.version]: String(resolved.version.version),
    };
    if (queued.replay) headers[H.idempotentReplay] = "true";
    if (trace) headers[H.traceId] = trace.traceId;
    if (reply.raw.destroyed) return reply;
    reply.hijack();
    reply.raw.writeHead(202, headers);
    reply.raw.end(json);
    return reply;
  }
  // The response's "close" before it finished is the caller leaving (a request's "close" fires once
  // its body was read, long before): the invocation is cancelled and recorded as such.
  const result = await ctx.invoker.invoke(resolved, invocation, callerGone(reply));
  // A streamed body holds the slot until the response ends.
  if (result.body instanceof Uint8Array) release();
  else reply.raw.once("close", release);
  if (trace?.recording) {
    trace.span.setAttribute(ATTR.faasColdstart, result.coldStart !== "warm");
    trace.span.setAttribute(ATTR.coldStartKind, result.coldStart);
  }
  const plainStatus = Number.isInteger(result.status) && result.status >= 200 && result.status <= 599;
  if (result.body instanceof Uint8Array && plainStatus && !reply.raw.headersSent && !reply.raw.destroyed) {
    // A whole response is written straight to the socket: no fastify hook or serializer applies to
    // invocation responses, and repeated headers (set-cookie) keep their order as the function sent them.
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of result.headers) {
      const lower = name.toLowerCase();
      if (RESPONSE_SKIP.has(lower)) continue;
      const seen = headers[lower];
      if (seen === undefined) headers[lower] = value;
      else if (Array.isArray(seen)) seen.push(value);
      else headers[lower] = [seen, value];
    }
    if (headers["content-type"] === undefined && result.body.byteLength > 0)
      headers["content-type"] = "application/octet-stream";
    headers[H.invocationId] = invocation.invocationId;
    headers[H.version] = String(resolved.version.version);
    headers[H.coldStart] = result.coldStart;
    if (trace) headers[H.traceId] = trace.traceId;
    headers["content-length"] = String(result.body.byteLength);
    reply.hijack();
    reply.raw.writeHead(result.status, headers);
    reply.raw.end(result.body);
    return reply;
  }
  reply.status(result.status);
  for (const [name, value] of result.headers) {
    if (!RESPONSE_SKIP.has(name.toLowerCase())) reply.header(name, value);
  }
  reply.header(H.invocationId, invocation.invocationId);
  reply.header(H.version, String(resolved.version.version));
  reply.header(H.coldStart, result.coldStart);
  if (trace) reply.header(H.traceId, trace.traceId);
  return result.body instanceof Uint8Array
    ? reply.send(Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength))
    : reply.send(Readable.from(result.body));
}

export function stickyKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers["kumo-sticky-key"];
  if (typeof header === "string" && header.length > 0) return header;
  const cookie = request.headers.cookie;
  if (!cookie) return undefined;
  const match = /(?:^|;\s*)kumo-sticky=([^;]+)/.exec(cookie);
  return match?.[1];
}

/**
 * Queues an invocation on the async stream with the caller's idempotency key (`kumo-idempotency-key`,
 * 1–256 characters); shared by async HTTP invocations and async step runs.
 */
export async function enqueueAsync(
  ctx: GatewayContext,
  request: FastifyRequest,
  resolved: ResolvedFunction,
  invocation: InvocationRequest,
  what: string,
): Promise<Enqueued> {
  if (!ctx.asyncQueue) {
    throw new KumoError("FN_008", `${what} need NATS with JetStream, which this gateway runs without`);
  }
  const key = request.headers[H.idempotencyKey];
  if (typeof key === "string" && (key.length === 0 || key.length > 256)) {
    throw invalid(`${H.idempotencyKey} must be 1 to 256 characters`);
  }
  const target = await ctx.resolver.target(resolved);
  return ctx.asyncQueue.enqueue(resolved, target, invocation, typeof key === "string" ? key : undefined);
}
