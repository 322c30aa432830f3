import { randomUUID } from "node:crypto";
import { type DeployedVersion, invalid } from "@kumo/core";
import { versionEnvironment } from "@kumo/db";
import { normalizeSourcePath, type SourceFiles } from "@kumo/source";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { toInvocationRequest } from "../invoke/to-invocation-request.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

/** The most of a draft's response body the answer carries; the rest is cut and marked truncated. */
const MAX_SHOWN_BODY_BYTES = 256 * 1024;
const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

const draftRequest = z.strictObject({
  method: z.enum(HTTP_METHODS).optional().describe("Default GET"),
  path: z
    .string()
    .max(2000)
    .regex(/^\//, 'must start with "/"')
    .optional()
    .describe('Path after the function prefix; default "/"'),
  query: z.string().max(4000).optional().describe("Query string without the ?"),
  headers: z
    .record(z.string().regex(HEADER_NAME, "must be an HTTP header name"), z.string().max(8192))
    .optional(),
  body: z
    .string()
    .max(512 * 1024)
    .optional()
    .describe("Request body as text"),
});

export const draftRunBody = z.strictObject({
  files: z
    .record(z.string().min(1).max(500), z.string().max(1024 * 1024))
    .refine((f) => Object.keys(f).length > 0, "must hold at least one file")
    .describe("The unsaved source, {path: content}; kumo.json among them configures it"),
  config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("kumo.json as an object (overrides the file)"),
  request: draftRequest.optional().describe("The sample request; default GET /"),
});

/**
 * `POST /v1/functions/:name/draft-runs`: the editor's "Test". Runs unsaved edge code once in a
 * fresh isolate with the function's limits, env and secrets, and answers with what it did. Nothing
 * is stored: no version, no invocation record, no metrics, no live-log lines (a draft is not
 * traffic). Container runtimes get FN_006: building an image per keystroke is not a draft.
 */
export function draftRunRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/v1/functions/:name/draft-runs",
      {
        schema: {
          tags: ["functions"],
          summary:
            "Run unsaved edge code once (the editor's Test): status, headers, body, logs and duration; creates no version and records no invocation",
          params: functionParams,
          body: draftRunBody,
        },
      },
      async (request) => {
        // Writing code that runs with the function's secrets is a developer's right, not an invoker's.
        const { store } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const { files: given, config: configOverride, request: sample = {} } = request.body;
        const files: SourceFiles = new Map();
        for (const [path, content] of Object.entries(given)) {
          files.set(normalizeSourcePath(path), Buffer.from(content, "utf8"));
        }
        if (configOverride) files.set("kumo.json", Buffer.from(JSON.stringify(configOverride)));
        const { config, code } = await ctx.deployer.bundleDraft(fn, files);
        const provider = ctx.providers.find((p) => p.supports(config.runtime));
        if (!provider) {
          throw invalid(
            `this gateway runs no isolates for runtime "${config.runtime}", so it cannot run drafts; deploy instead`,
          );
        }
        const { env, envDigest } = await versionEnvironment(store, fn, config, ctx.secretBox);
        const draftId = `draft_${randomUUID()}`;
        const target: DeployedVersion = {
          tenantId: store.tenantId,
          functionId: fn.id,
          functionName: fn.name,
          versionId: draftId,
          version: 0,
          runtime: config.runtime,
          config,
          sourceDigest: draftId,
          artifact: draftId,
          env,
          envDigest,
          loadCode: async () => code,
        };
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(sample.headers ?? {})) headers[name.toLowerCase()] = value;
        headers.host ??= request.headers.host ?? "localhost";
        const body = sample.body === undefined ? undefined : Buffer.from(sample.body, "utf8");
        const invocation = toInvocationRequest({
          trigger: "api",
          method: sample.method ?? "GET",
          path: sample.path ?? "/",
          query: sample.query ?? "",
          headers,
          body,
          config,
          // These headers are the sample's own (say, a webhook's signature), never the caller's key.
          stripAuthorization: false,
        });
        const abort = new AbortController();
        request.raw.once("close", () => abort.abort());
        const t0 = performance.now();
        try {
          const result = await provider.invoke(target, invocation, abort.signal);
          const { bytes, truncated } = await readBody(result.body);
          const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
          const type = result.headers.find(([name]) => name === "content-type")?.[1] ?? "";
          const text = isText(type, bytes);
          return {
            invocationId: invocation.invocationId,
            status: result.status,
            headers: result.headers,
            body: text ? bytes.toString("utf8") : bytes.toString("base64"),
            bodyEncoding: text ? ("utf8" as const) : ("base64" as const),
            truncated,
            logs: result.logs.map((l) => ({
              ts: new Date(l.ts).toISOString(),
              level: l.level,
              message: l.message,
            })),
            durationMs,
            coldStart: result.coldStart,
            error: result.error ? { code: result.error.code, message: result.error.message } : null,
          };
        } finally {
          // One isolate per draft: dropped at once, so drafts never pile up warm instances.
          await provider.evict?.(draftId);
        }
      },
    );
  };
}

async function readBody(
  body: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  if (body instanceof Uint8Array) {
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return bytes.byteLength > MAX_SHOWN_BODY_BYTES
      ? { bytes: bytes.subarray(0, MAX_SHOWN_BODY_BYTES), truncated: true }
      : { bytes, truncated: false };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    size += chunk.byteLength;
    if (size > MAX_SHOWN_BODY_BYTES) {
      return { bytes: Buffer.concat(chunks).subarray(0, MAX_SHOWN_BODY_BYTES), truncated: true };
    }
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

/** Text types as text; without a type, whatever decodes as UTF-8. */
function isText(type: string, bytes: Buffer): boolean {
  if (/^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded)|[^;]*\+(json|xml))/.test(type))
    return true;
  if (type !== "") return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
