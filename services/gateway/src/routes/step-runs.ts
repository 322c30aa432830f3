import { headers as H } from "@kumo/bus";
import {
  type FunctionConfig,
  httpStatusOfCode,
  invalid,
  isFunctionFault,
  KumoError,
  STEP_EVENT_TYPE,
  stepOutcome,
} from "@kumo/core";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { JWTPayload } from "jose";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { asciiJson } from "../auth/invocation-guard.ts";
import type { GatewayContext } from "../context.ts";
import { callerGone } from "../http/caller-gone.ts";
import type { ResolvedFunction } from "../invoke/function-resolver.ts";
import { readWholeBody } from "../invoke/read-whole-body.ts";
import { toInvocationRequest } from "../invoke/to-invocation-request.ts";
import { admitInvocation } from "../limits/admit-invocation.ts";
import { enqueueAsync, stickyKeyOf } from "./invoke.ts";

const ADDRESS = /^[a-z][a-z0-9-]{0,62}(@[a-z0-9][a-z0-9-]{0,62})?$/;
const ID = z.string().min(1).max(256);

/** What the caller says about the workflow; the platform adds invocationId, function, version, deadline. */
export const stepContextSchema = z.strictObject({
  workflowId: ID.optional(),
  runId: ID.optional(),
  stepId: ID.optional(),
  trigger: z.unknown().optional().describe("What started the workflow run, as the caller describes it"),
  previous: z.unknown().optional().describe("Earlier steps' outputs, as the caller passes them"),
  env: z
    .record(z.string().min(1).max(256), z.string().max(64 * 1024))
    .optional()
    .describe(
      "The workflow's variables, passed to the step as context.env. They never become the function's environment: process.env / env hold only what its kumo.json names (env, secrets) and its function env vars",
    ),
});

export const stepRunBody = z.strictObject({
  input: z.unknown().optional().describe("The step's input: any JSON value (default null)"),
  context: stepContextSchema.optional(),
});

export const logLineSchema = z.object({
  ts: z.string().describe("ISO time"),
  level: z.enum(["debug", "info", "warn", "error"]),
  message: z.string(),
});

export const stepRunResult = z.object({
  output: z.unknown().describe("What the step returned (null after an error)"),
  nextPath: z.string().describe('The branch the workflow takes: the step\'s own, "default", or "error"'),
  error: z
    .object({ code: z.string(), message: z.string(), stack: z.string().optional() })
    .optional()
    .describe("Present when the step failed (FN_004 threw, FN_002 timed out, FN_003 ran out of memory)"),
  logs: z.array(logLineSchema),
  durationMs: z.number(),
  invocationId: z.string(),
  version: z.number().int(),
});

const queuedResult = z.object({
  invocationId: z.string(),
  status: z.literal("queued"),
  replay: z.boolean(),
});

/**
 * `POST /v1/functions/:name/run`: a workflow step. Runs the function's `step(input, context)` (any
 * function works: one without `step` gets `{ input, context }` as a `step` event and its response is
 * the output) and answers `{ output, nextPath, error?, logs, durationMs, invocationId, version }`.
 * The step's own failures (FN_002/003/004) are answers with `nextPath: "error"`, so a workflow can
 * branch on them; the platform's and the caller's (not found, limits, no capacity) are HTTP errors.
 * Recorded like every invocation, with trigger `step`. `kumo-invocation-type: async` queues it (202)
 * and the destination webhook gets the same object as `step`.
 */
export function stepRunRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/v1/functions/:name/run",
      {
        bodyLimit: ctx.config.bodyLimitBytes,
        schema: {
          tags: ["invocations"],
          summary: "Run a workflow step: step(input, context) → { output, nextPath, error?, logs, ... }",
          params: z.object({
            name: z.string().regex(ADDRESS, "must be a function name, optionally with @alias or @vN"),
          }),
          body: stepRunBody,
          response: { 200: stepRunResult, 202: queuedResult },
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "invoke");
        const invocationType = request.headers[H.invocationType];
        if (invocationType !== undefined && invocationType !== "async" && invocationType !== "sync") {
          throw invalid(`${H.invocationType} must be "sync" or "async", not "${String(invocationType)}"`);
        }
        const resolved = await ctx.resolver.resolve(
          store.tenantId,
          principal.tenantName,
          request.params.name,
          stickyKeyOf(request),
        );
        const release = await admitInvocation(ctx.quotas, reply, store.tenantId, invocationType !== "async");
        try {
          return await runStep(ctx, request, reply, resolved, invocationType === "async", request.body);
        } finally {
          release();
        }
      },
    );
  };
}

async function runStep(
  ctx: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  resolved: ResolvedFunction,
  queue: boolean,
  given: z.infer<typeof stepRunBody>,
): Promise<FastifyReply> {
  const version = resolved.version.version;
  const { input = null, context = {} } = given;
  const auth = await stepClaims(ctx, request, resolved);
  const body = Buffer.from(
    JSON.stringify({ input, context: { ...context, function: resolved.fn.name, version, auth } }),
  );
  const invocation = toInvocationRequest({
    trigger: "step",
    method: "POST",
    path: "/",
    query: "",
    // The caller's headers (its key above all) are not the step's: only what describes the body.
    headers: { host: request.headers.host ?? "localhost", "content-type": "application/json" },
    body,
    config: resolved.version.config as FunctionConfig,
    stripAuthorization: true,
    traceparent: request.trace?.traceparent,
  });
  invocation.headers[H.eventType] = STEP_EVENT_TYPE;
  // A function without step() reads them as an HTTP function would.
  if (auth) invocation.headers[H.authClaims] = asciiJson(auth);
  if (queue) {
    const queued = await enqueueAsync(ctx, request, resolved, invocation, "async runs");
    reply.header(H.invocationId, queued.invocationId).header(H.version, String(version));
    if (queued.replay) reply.header(H.idempotentReplay, "true");
    return reply
      .status(202)
      .send({ invocationId: queued.invocationId, status: "queued" as const, replay: queued.replay });
  }
  const t0 = performance.now();
  const result = await ctx.invoker.invoke(resolved, invocation, callerGone(reply));
  const bytes = await readWholeBody(result.body, ctx.config.bodyLimitBytes);
  const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
  const outcome = stepOutcome(result, bytes);
  if (outcome.error && !isFunctionFault(outcome.error.code)) {
    throw new KumoError(outcome.error.code, outcome.error.message, {
      status: httpStatusOfCode(outcome.error.code),
    });
  }
  const answer: z.infer<typeof stepRunResult> = {
    output: outcome.output,
    nextPath: outcome.nextPath,
    ...(outcome.error ? { error: outcome.error } : {}),
    logs: outcome.logs.map((l) => ({
      ts: new Date(l.ts).toISOString(),
      level: l.level,
      message: l.message,
    })),
    durationMs,
    invocationId: invocation.invocationId,
    version,
  };
  // The schema documents the answer; this hot path skips the schema serializer's second pass
  // over a value built here to the same type (about 0.05 ms a step run).
  return reply
    .header(H.invocationId, invocation.invocationId)
    .header(H.version, String(version))
    .serializer(JSON.stringify)
    .send(answer);
}

/**
 * The verified claims of the end user's JWT a step run carries in kumo-auth-token (the caller's API key
 * stays in Authorization), for `context.auth`; null without one. Verified with the function's
 * `httpAuth.jwt`, exactly as its HTTP requests are.
 */
async function stepClaims(
  ctx: GatewayContext,
  request: FastifyRequest,
  resolved: ResolvedFunction,
): Promise<JWTPayload | null> {
  const token = request.headers[H.authToken];
  if (token === undefined) return null;
  const httpAuth = (resolved.version.config as FunctionConfig).httpAuth;
  if (typeof httpAuth !== "object" || !httpAuth.jwt) {
    throw invalid(
      `${H.authToken}: function "${resolved.fn.name}" verifies no JWTs (its httpAuth has no jwt); drop the header or configure httpAuth.jwt`,
    );
  }
  if (typeof token !== "string" || token.length === 0)
    throw new KumoError("FN_009", `${H.authToken} must hold one JWT`, { status: 401 });
  return ctx.guard.verifyToken(token, httpAuth.jwt);
}
