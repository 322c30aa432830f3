import { z } from "zod";
import { CronSchedule, DEFAULT_TIME_ZONE } from "./cron-schedule.ts";
import { durationMs } from "./duration.ts";
import { eventPatternProblem } from "./event-pattern.ts";
import { corsSchema, httpAuthSchema, ipAllowlistSchema, rateLimitSchema } from "./invocation-policy.ts";
import { envKey, resourceName } from "./names.ts";
import {
  cronJitter,
  databaseTriggerFields,
  queueNameProblem,
  queueTriggerFields,
  triggerAlertSchema,
} from "./trigger-specs.ts";

/** Runtimes a function can declare. "edge" runs in V8 isolates; the rest run in containers. */
export const RUNTIMES = ["edge", "node", "bun", "deno", "python", "go", "container"] as const;

/**
 * Handler shapes a function's module may have (runtimes/shared/handler-shape.mjs for JavaScript,
 * runtimes/python/shim/kumo_shapes.py for Python); detected unless kumo.json names one.
 */
export const HANDLER_SHAPES = [
  "workers",
  "deno-serve",
  "web",
  "lambda",
  "node-http",
  "node-app",
  "openfaas",
  "knative",
  "wsgi",
  "asgi",
  "step",
] as const;
export type HandlerShape = (typeof HANDLER_SHAPES)[number];

/** The shapes an edge isolate runs: the others need Node's http module or Python (containers only). */
export const EDGE_HANDLER_SHAPES = [
  "workers",
  "deno-serve",
  "web",
  "lambda",
  "openfaas",
  "knative",
  "step",
] as const;

/**
 * Opt-in compatibility layers of edge functions. "nodejs": `node:buffer`, `node:events`, `node:util`,
 * `node:stream`, `node:path`, `node:url`, `node:assert`, `node:string_decoder` and a `node:crypto`
 * subset resolve to browser implementations, with `Buffer`, `process` and `global` as globals
 * (as Cloudflare's `nodejs_compat`).
 */
export const COMPATIBILITY_FLAGS = ["nodejs"] as const;
export type CompatibilityFlag = (typeof COMPATIBILITY_FLAGS)[number];
export type Runtime = (typeof RUNTIMES)[number];

export const isEdgeRuntime = (runtime: Runtime | RuntimeName): boolean => runtime === "edge";

/**
 * Versions a runtime family can be pinned to (`"runtime": "node22"`); the plain family name is the
 * default version (node: Node 24, python: Python 3.11), so it moves when the default does. Each
 * version is a recipe image of its own (deploy/images/recipes.json), built when a function first uses it.
 */
export const RUNTIME_VERSIONS = {
  node: ["node20", "node22", "node24"],
  python: ["python3.11", "python3.13"],
} as const satisfies Partial<Record<Runtime, readonly string[]>>;
export type VersionedRuntime = (typeof RUNTIME_VERSIONS)[keyof typeof RUNTIME_VERSIONS][number];
/** What `runtime` in kumo.json and the API holds: a family ("node") or a pinned version ("node22"). */
export type RuntimeName = Runtime | VersionedRuntime;

const VERSIONED: ReadonlyMap<string, Runtime> = new Map(
  Object.entries(RUNTIME_VERSIONS).flatMap(([family, names]) => names.map((n) => [n, family as Runtime])),
);

/** Every accepted `runtime` value: the families, then the pinned versions. */
export const RUNTIME_NAMES: readonly RuntimeName[] = [
  ...RUNTIMES,
  ...(VERSIONED.keys() as Iterable<VersionedRuntime>),
];

export const isRuntimeName = (value: string): value is RuntimeName =>
  (RUNTIMES as readonly string[]).includes(value) || VERSIONED.has(value);

/**
 * The family of a runtime name ("node22" -> "node"): metrics, pools and handler shapes go by the
 * family. A name that is no runtime (a row written by a newer release) comes back as it is.
 */
export function runtimeFamily(name: RuntimeName): Runtime;
export function runtimeFamily(name: string): string;
export function runtimeFamily(name: string): string {
  return VERSIONED.get(name) ?? name;
}

/** The runtime field's schema: a family or a pinned version; anything else is refused listing them. */
export const runtimeNameSchema = z.enum(RUNTIME_NAMES as [RuntimeName, ...RuntimeName[]], {
  error: (issue) => `unknown runtime ${JSON.stringify(issue.input)}: use one of ${RUNTIME_NAMES.join(", ")}`,
});

/** Platform maxima: a function may lower its limits, never raise them past these. */
export const PLATFORM_LIMITS = {
  memoryMb: { min: 16, max: 4096 },
  timeoutMs: { min: 10, max: 900_000 },
  cpuMs: { min: 1, max: 30_000 },
  bodyBytes: { max: 10 * 1024 * 1024 },
  instances: { max: 100 },
  concurrency: { max: 1000 },
} as const;

const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"] as const;

const triggerTarget = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be an alias ("live") or a version ("v3")')
  .default("live");

/** Fields every kind of trigger has. `paused`: created paused (a deploy keeps a trigger's pause state). */
const common = {
  target: triggerTarget,
  alert: triggerAlertSchema.optional(),
  paused: z.boolean().default(false),
};

/**
 * A trigger as kumo.json declares it and `POST /v1/functions/:name/triggers` accepts it; without
 * `type` it is a cron trigger. One schema for both entry points, so the two mean the same.
 */
const triggerSchema = z.discriminatedUnion("type", [
  z
    .strictObject({
      type: z.literal("cron").default("cron"),
      schedule: z.string().min(1).max(120),
      timezone: z.string().min(1).max(64).default(DEFAULT_TIME_ZONE),
      overlap: z.enum(["skip", "allow", "queue"]).default("skip"),
      catchUp: z.enum(["skip", "once", "all"]).default("skip"),
      catchUpWindow: durationMs
        .pipe(
          z
            .number()
            .int()
            .min(1000)
            .max(7 * 86_400_000, "must be at most 7 days"),
        )
        .default(3_600_000),
      jitter: cronJitter.default(0),
      ...common,
    })
    .superRefine((spec, c) => {
      const problem = CronSchedule.problem(spec.schedule, spec.timezone);
      if (problem) c.addIssue({ code: "custom", path: [problem.field], message: problem.message });
    }),
  z.strictObject({ type: z.literal("queue"), ...queueTriggerFields, ...common }).superRefine((spec, c) => {
    const problem = queueNameProblem(spec.queue, spec.broker !== undefined);
    if (problem) c.addIssue({ code: "custom", path: ["queue"], message: problem });
  }),
  z.strictObject({ type: z.literal("database"), ...databaseTriggerFields, ...common }),
  z
    .strictObject({ type: z.literal("event"), eventType: z.string().min(1).max(200), ...common })
    .superRefine((spec, c) => {
      const problem = eventPatternProblem(spec.eventType);
      if (problem) c.addIssue({ code: "custom", path: ["eventType"], message: problem });
    }),
]);
export type TriggerSpec = z.infer<typeof triggerSchema>;
export { triggerSchema };

const routeSchema = z.strictObject({
  method: z.enum(HTTP_METHODS).default("ANY"),
  path: z
    .string()
    .regex(
      /^\/[A-Za-z0-9_\-./:*]*$/,
      "must start with '/' and hold only URL path characters, ':param' and '*'",
    )
    .max(300),
  host: z.string().max(253).optional(),
});

/** Where an async invocation's outcome is POSTed: an http(s) URL (checked against the SSRF policy when sent). */
const destinationUrl = z
  .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
  .max(2048, "must be at most 2048 characters");

/**
 * kumo.json: the function's configuration, kept next to its code. Strict: an unknown key is a typo
 * the user wants to hear about. Durations accept "30s"-style strings and are normalized to ms here.
 */
const functionConfigObject = z.strictObject({
  $schema: z.string().optional(),
  name: resourceName.optional(),
  runtime: runtimeNameSchema,
  handler: z.string().min(1).max(200).optional(),
  /**
   * The handler shape, when detection from the module guesses wrong (see the README's "Handler
   * shapes"); edge takes workers, deno-serve, web, lambda, openfaas, knative and step.
   */
  handlerShape: z.enum(HANDLER_SHAPES).optional(),
  /**
   * Edge only: ["nodejs"] lets code import node:buffer, events, util, stream, path, url, assert,
   * string_decoder and a node:crypto subset, with Buffer, process and global as globals.
   */
  compatibility: z.array(z.enum(COMPATIBILITY_FLAGS)).max(COMPATIBILITY_FLAGS.length).optional(),
  memoryMb: z.number().int().min(PLATFORM_LIMITS.memoryMb.min).max(PLATFORM_LIMITS.memoryMb.max).default(128),
  timeoutMs: durationMs
    .pipe(z.number().min(PLATFORM_LIMITS.timeoutMs.min).max(PLATFORM_LIMITS.timeoutMs.max))
    .default(10_000),
  cpuMs: z.number().int().min(PLATFORM_LIMITS.cpuMs.min).max(PLATFORM_LIMITS.cpuMs.max).default(50),
  maxBodyBytes: z
    .number()
    .int()
    .min(1)
    .max(PLATFORM_LIMITS.bodyBytes.max)
    .default(PLATFORM_LIMITS.bodyBytes.max),
  env: z.record(envKey, z.string().max(32_768)).default({}),
  /** Tenant secrets exposed to the function as env vars of the same name. */
  secrets: z.array(envKey).max(100).default([]),
  triggers: z.array(triggerSchema).max(50).default([]),
  /** The failure alert of every trigger of this function that declares none of its own. */
  alert: triggerAlertSchema.optional(),
  scaling: z
    .strictObject({
      minInstances: z.number().int().min(0).max(PLATFORM_LIMITS.instances.max).default(0),
      maxInstances: z.number().int().min(1).max(PLATFORM_LIMITS.instances.max).default(10),
      concurrency: z.number().int().min(1).max(PLATFORM_LIMITS.concurrency.max).optional(),
      maxConcurrency: z.number().int().min(1).max(PLATFORM_LIMITS.concurrency.max).optional(),
      idleTtlMs: durationMs.pipe(z.number().min(1000).max(86_400_000)).default(300_000),
    })
    .refine((s) => s.minInstances <= s.maxInstances, {
      message: "minInstances must not exceed maxInstances",
      path: ["minInstances"],
    })
    .default({ minInstances: 0, maxInstances: 10, idleTtlMs: 300_000 }),
  egress: z.boolean().default(false),
  /**
   * Runtime "container" only: the TCP port the image's server listens on (images made for OpenFaaS,
   * Knative or Cloud Run). Kumo starts the image's ENTRYPOINT and CMD behind its port bridge with
   * `PORT` set and sends each request, path and query kept, to that port on the container's loopback.
   * Unset: the image speaks Kumo's socket protocol itself (runtimes/custom/README.md).
   */
  port: z.number().int().min(1).max(65_535).optional(),
  /**
   * With `port`: the HTTP path polled until it answers 2xx before the function takes requests (and
   * again when an invocation times out). Unset: the port accepting a connection means ready.
   */
  healthPath: z
    .string()
    .max(200)
    .regex(/^\/[\x21-\x7e]*$/, "must be a path starting with '/', without spaces")
    .optional(),
  /** Public HTTP access at /fn/... and routes: "public", "key" (an invoker key) or `{ jwt: {...} }`. */
  httpAuth: httpAuthSchema,
  /** Requests per window across all gateways; over it, 429 FN_007. */
  rateLimit: rateLimitSchema.optional(),
  /** Client addresses (CIDRs) allowed to invoke over HTTP. */
  ipAllowlist: ipAllowlistSchema.optional(),
  /** Cross-origin browser access to the function's HTTP endpoints. */
  cors: corsSchema.optional(),
  routes: z.array(routeSchema).max(50).default([]),
  maxRetries: z.number().int().min(0).max(10).default(2),
  /**
   * Async invocations only: webhooks told the outcome once it is final (succeeded, or failed after
   * the last retry). The autoscaler POSTs `{invocationId, function, version, status, errorCode, result}`.
   */
  destinations: z
    .strictObject({ onSuccess: destinationUrl.optional(), onFailure: destinationUrl.optional() })
    .optional(),
});

/** kumo.json with the rules that span fields (see functionConfigObject for each field). */
export const functionConfigSchema = functionConfigObject.superRefine((config, ctx) => {
  // The port bridge runs custom images only: every other runtime's shim speaks the socket protocol.
  if (config.port !== undefined && config.runtime !== "container") {
    ctx.addIssue({
      code: "custom",
      path: ["port"],
      message: `is for runtime "container" (an image whose server listens on a TCP port), not "${config.runtime}": remove it`,
    });
  }
  if (config.healthPath !== undefined && config.port === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["healthPath"],
      message: "needs port: it is polled on the TCP port the image listens on",
    });
  }
});

export type FunctionConfigInput = z.input<typeof functionConfigSchema>;
export type FunctionConfig = z.output<typeof functionConfigSchema>;

/** The JSON schema published at /v1/schema/kumo.json for editors. */
export function functionConfigJsonSchema(): unknown {
  return z.toJSONSchema(functionConfigSchema, { io: "input", unrepresentable: "any" });
}
