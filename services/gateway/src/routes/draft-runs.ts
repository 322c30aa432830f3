import { createHash } from "node:crypto";
import { headers as H } from "@kumo/bus";
import {
  type FunctionConfig,
  functionConfigSchema,
  type InvocationRequest,
  type InvocationResult,
  parseOrThrow,
  STEP_EVENT_TYPE,
  stepOutcome,
} from "@kumo/core";
import { type TenantStore, versionEnvironment } from "@kumo/db";
import { normalizeSourcePath, type SourceFiles } from "@kumo/source";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { callerGone } from "../http/caller-gone.ts";
import { BundleCache } from "../invoke/bundle-cache.ts";
import { type Draft, type DraftOutcome, DraftRunner } from "../invoke/draft-runner.ts";
import { readWholeBody } from "../invoke/read-whole-body.ts";
import { toInvocationRequest } from "../invoke/to-invocation-request.ts";
import { TokenBuckets } from "../invoke/token-buckets.ts";
import {
  draftHttpAnswer,
  type draftRequest,
  draftRunBody,
  draftStepAnswer,
  runBody,
} from "./draft-run-schemas.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

/** The most of a draft's response body the answer carries; the rest is cut and marked truncated. */
const MAX_SHOWN_BODY_BYTES = 256 * 1024;
/**
 * Draft runs: unsaved edge code run once in a fresh isolate (DraftRunner, one implementation for
 * both routes), rate-limited per tenant. A draft creates no version and no invocation record, metric
 * or live-log line (a draft is not traffic); it is recorded in the tenant's audit log as `draft.run`
 * (kind "draft": who ran what source digest, and how it ended). Container runtimes get FN_006:
 * building an image per keystroke is not a draft. Code that does not compile is FN_005 (422) with
 * `details: { file, line, column }`.
 *
 * - `POST /v1/functions/:name/draft-runs`: the editor's "Test", with the function's limits, env and
 *   secrets; answers status, headers, body, logs and duration.
 * - `POST /v1/run`: code of no function (a workflow designer's "Test", a one-off script) with the
 *   platform's default limits and the `env` it is given; `input` runs it as a step (`step(input,
 *   context)`, answered as `POST /v1/functions/:name/run` answers), `request` as HTTP.
 */
export function draftRunRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    // `POST /v1/run` sources by tenant and content: a repeated "Test" skips the bundler.
    const bundles = new BundleCache({ maxEntries: 256, maxBytes: 32 * 1024 * 1024 });
    const runner = new DraftRunner({
      providers: ctx.providers,
      buckets: new TokenBuckets({
        capacity: ctx.config.draftBurst,
        perSecond: ctx.config.draftRatePerMinute / 60,
      }),
    });

    app.post(
      "/v1/functions/:name/draft-runs",
      {
        schema: {
          tags: ["functions"],
          summary:
            "Run unsaved edge code once (the editor's Test): status, headers, body, logs and duration; creates no version and records no invocation",
          params: functionParams,
          body: draftRunBody,
          response: { 200: draftHttpAnswer },
        },
      },
      async (request, reply) => {
        // Writing code that runs with the function's secrets is a developer's right, not an invoker's.
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        runner.admit(store.tenantId);
        const { files: given, config: configOverride, request: sample = {} } = request.body;
        const files = sourceFiles(given);
        if (configOverride) files.set("kumo.json", Buffer.from(JSON.stringify(configOverride)));
        const { config, code } = await ctx.deployer.bundleDraft(fn, files);
        const { env, envDigest } = await versionEnvironment(store, fn, config, ctx.secretBox);
        const draft: Draft = {
          tenantId: store.tenantId,
          functionId: fn.id,
          functionName: fn.name,
          config,
          code,
          env,
          envDigest,
        };
        const invocation = httpInvocation(request, sample, config);
        const outcome = await runner.run(draft, invocation, callerGone(reply));
        audit(request, store, principal.keyId, `function/${fn.name}`, code, invocation, outcome);
        return httpResult(invocation, outcome);
      },
    );

    app.post(
      "/v1/run",
      {
        schema: {
          tags: ["functions"],
          summary:
            "Run code that is not deployed (a designer's Test, a one-off script): as a step with `input`, or as HTTP with `request`",
          body: runBody,
          response: { 200: z.union([draftStepAnswer, draftHttpAnswer]) },
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        runner.admit(store.tenantId);
        const body = request.body;
        const entry = body.handler ?? "index.ts";
        const files =
          body.code === undefined ? sourceFiles(body.files ?? {}) : sourceFiles({ [entry]: body.code });
        const config = parseOrThrow(
          functionConfigSchema,
          { runtime: body.runtime, ...(body.handler ? { handler: body.handler } : {}), env: body.env ?? {} },
          "draft configuration",
        );
        const cacheKey = BundleCache.key(store.tenantId, body.handler, files);
        let code = bundles.get(cacheKey);
        if (code === undefined) {
          code = await ctx.deployer.bundleCode(config, files, store.tenantId);
          bundles.set(cacheKey, code);
        }
        const env = { ...config.env };
        const draft: Draft = {
          tenantId: store.tenantId,
          functionId: "draft",
          functionName: "draft",
          config,
          code,
          env,
          envDigest: createHash("sha256")
            .update(JSON.stringify(Object.entries(env).sort()))
            .digest("hex")
            .slice(0, 16),
        };
        if (body.input === undefined) {
          const invocation = httpInvocation(request, body.request ?? {}, config);
          const outcome = await runner.run(draft, invocation, callerGone(reply));
          audit(request, store, principal.keyId, "draft", code, invocation, outcome);
          return httpResult(invocation, outcome);
        }
        const invocation = toInvocationRequest({
          trigger: "step",
          method: "POST",
          path: "/",
          query: "",
          headers: { host: request.headers.host ?? "localhost", "content-type": "application/json" },
          body: Buffer.from(
            JSON.stringify({
              input: body.input,
              context: { ...body.context, function: "draft", version: 0 },
            }),
          ),
          config,
          stripAuthorization: true,
        });
        invocation.headers[H.eventType] = STEP_EVENT_TYPE;
        const outcome = await runner.run(draft, invocation, callerGone(reply));
        audit(request, store, principal.keyId, "draft", code, invocation, outcome);
        const bytes = await readWholeBody(outcome.result.body, ctx.config.bodyLimitBytes);
        const step = stepOutcome(outcome.result, bytes);
        return {
          invocationId: invocation.invocationId,
          output: step.output,
          nextPath: step.nextPath,
          ...(step.error ? { error: step.error } : {}),
          logs: logLines(outcome.result),
          durationMs: outcome.durationMs,
          coldStart: outcome.result.coldStart,
        };
      },
    );
  };
}

function sourceFiles(given: Record<string, string>): SourceFiles {
  const files: SourceFiles = new Map();
  for (const [path, content] of Object.entries(given)) {
    files.set(normalizeSourcePath(path), Buffer.from(content, "utf8"));
  }
  return files;
}

function httpInvocation(
  request: FastifyRequest,
  sample: z.infer<typeof draftRequest>,
  config: FunctionConfig,
): InvocationRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(sample.headers ?? {})) headers[name.toLowerCase()] = value;
  headers.host ??= request.headers.host ?? "localhost";
  const body = sample.body === undefined ? undefined : Buffer.from(sample.body, "utf8");
  return toInvocationRequest({
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
}

async function httpResult(invocation: InvocationRequest, { result, durationMs }: DraftOutcome) {
  const { bytes, truncated } = await readBody(result.body);
  const type = result.headers.find(([name]) => name === "content-type")?.[1] ?? "";
  const text = isText(type, bytes);
  return {
    invocationId: invocation.invocationId,
    status: result.status,
    headers: result.headers,
    body: text ? bytes.toString("utf8") : bytes.toString("base64"),
    bodyEncoding: text ? ("utf8" as const) : ("base64" as const),
    truncated,
    logs: logLines(result),
    durationMs,
    coldStart: result.coldStart,
    error: result.error ? { code: result.error.code, message: result.error.message } : null,
  };
}

function logLines(result: InvocationResult) {
  return result.logs.map((l) => ({ ts: new Date(l.ts).toISOString(), level: l.level, message: l.message }));
}

/**
 * The draft's audit event (kind "draft"): who ran which code, and how it ended; never its env.
 * Written beside the answer, not before it (a draft's latency is what an editor feels); a failed
 * write is logged.
 */
function audit(
  request: FastifyRequest,
  store: TenantStore,
  actor: string,
  target: string,
  code: string,
  invocation: InvocationRequest,
  { result, durationMs }: DraftOutcome,
): void {
  const written = store.audit.record(actor, "draft.run", target, {
    kind: "draft",
    invocationId: invocation.invocationId,
    trigger: invocation.trigger,
    codeDigest: createHash("sha256").update(code).digest("hex").slice(0, 16),
    status: result.status,
    errorCode: result.error?.code ?? null,
    durationMs,
  });
  written.catch((error: unknown) => request.log.warn({ err: error }, "could not record a draft run"));
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
