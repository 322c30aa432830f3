import type { ErrorCode } from "@kumo/core";

/** What an error code means to the person who got it: causes seen in practice and what to do. */
export interface ErrorGuidance {
  /** One sentence: what the code says happened. */
  readonly means: string;
  readonly causes: readonly string[];
  readonly fix: string;
}

/**
 * Hand-written guidance per public error code, rendered into docs/reference/error-codes.md next to
 * the code's title, status and fault from packages/core/src/errors.ts. The generator (and the doc
 * test) refuse a code without an entry, so a new code cannot ship undocumented.
 */
export const ERROR_GUIDANCE: Record<ErrorCode, ErrorGuidance> = {
  FN_001: {
    means:
      "The function, tenant, version, alias, key, trigger or route named in the request does not exist for your key.",
    causes: [
      "A typo in the function name or the tenant in `/fn/<tenant>/<function>/`.",
      "The function belongs to another tenant: Kumo answers FN_001 so names of other tenants do not leak.",
      "The function exists but was never deployed (no version, so `live` points nowhere).",
      "A path outside `/v1`, `/fn`, `/git`, `/guide` and the console's pages.",
    ],
    fix: "Check the name with `kumo functions list` using a key of the right tenant; deploy once with `kumo deploy`.",
  },
  FN_002: {
    means:
      "The invocation ran past its time limit (`timeoutMs` in kumo.json, or an edge function's CPU time `cpuMs`).",
    causes: [
      "A slow or hanging call to another service (edge `fetch` to an address that never answers).",
      "A promise that never settles, so the handler never returns.",
      "Too small a `timeoutMs` for the work (default 10 s, at most 15 min).",
    ],
    fix: "Raise `timeoutMs` (or `cpuMs` for edge) in kumo.json and redeploy, or bound the slow call with an `AbortSignal.timeout()`; `kumo invocations <id>` shows the logs up to the timeout.",
  },
  FN_003: {
    means: "The function used more memory than `memoryMb` allows and was stopped.",
    causes: [
      "Reading a whole large body or file into memory.",
      "A cache or array that grows with every request.",
    ],
    fix: "Raise `memoryMb` in kumo.json (at most 4096) and redeploy, or stream the data instead of buffering it.",
  },
  FN_004: {
    means: "The handler threw, or answered with something that is not a valid response.",
    causes: [
      "An uncaught exception in the handler (the message and stack are in the response and in the logs).",
      "A status outside 200–599, or a Lambda-style result Kumo cannot read.",
      "A missing environment variable or secret the code expects.",
    ],
    fix: "Read the error with `kumo invocations <id>` or `kumo logs <function>`; reproduce locally with `kumo dev`.",
  },
  FN_005: {
    means:
      "A deployment failed: the code did not bundle or the image did not build. `live` stays on the previous version.",
    causes: [
      "A syntax error (the message names the file and line).",
      "A dependency that does not resolve (`npm error code E404`, pip's `ERROR: …`).",
      "An edge function importing a Node built-in module (`fs`, `net`, …) or a bundle over `KUMO_EDGE_BUNDLE_MAX_BYTES`.",
      "A build that ran longer than `KUMO_BUILD_TIMEOUT`.",
    ],
    fix: "Read the build log (`kumo deploy` streams it; `GET /v1/functions/:name/deployments/:id`), fix the source and deploy again.",
  },
  FN_006: {
    means: "The request or kumo.json is invalid; `details.problems[]` lists each problem with its field.",
    causes: [
      "A kumo.json field with a wrong type or value (an unknown key is refused too: it is usually a typo).",
      "A bad cron schedule or time zone (`body.schedule`, `body.timezone`).",
      "A conflict (409): a route another function uses, a second running rollout on an alias.",
      "A NUL character in a name, a query or a JSON body.",
    ],
    fix: "Fix the field the message names; validate kumo.json against `/v1/schema/kumo.json` in your editor.",
  },
  FN_007: {
    means: "A rate limit, concurrency limit or tenant quota was reached (429).",
    causes: [
      "The function's `rateLimit` (the response carries `Retry-After` and `RateLimit-*` headers).",
      "More concurrent invocations than `scaling.maxConcurrency` for longer than `KUMO_QUEUE_TIMEOUT`.",
      "A tenant quota (functions, versions, invocations per day, build minutes, stored bytes); `GET /v1/usage` shows them.",
      "Too many draft runs per minute (`KUMO_DRAFT_RATE`).",
    ],
    fix: "Retry after the time in `Retry-After`, raise the limit in kumo.json, or ask the platform admin to raise the quota.",
  },
  FN_008: {
    means:
      "The platform could not serve the request now: no instance could be started in time, or a dependency it needs (PostgreSQL, NATS JetStream) is unreachable for a moment.",
    causes: [
      "No autoscaler node is running, or none has a Docker engine (container runtimes only).",
      "The container did not become healthy within `KUMO_INSTANCE_START_TIMEOUT`.",
      "An async invocation or event could not be queued (NATS JetStream unreachable); retry the request.",
      'PostgreSQL is restarting or failing over (the message says "the database is unavailable"); retry the request.',
    ],
    fix: "Retry with backoff; if it persists, check `/readyz` and the autoscaler's log (`npm start` runs one autoscaler with the local Docker engine).",
  },
  FN_009: {
    means:
      "The caller is not allowed: no key, a wrong, revoked or expired key, a role that may not do this, or a refused JWT.",
    causes: [
      "A missing or mistyped `Authorization: Bearer <key>` header (401).",
      "A `viewer` or `invoker` key used for a change (403); roles are admin, developer, invoker, viewer.",
      "A key scoped to other functions, or a client address outside the function's `ipAllowlist` (403).",
      'A function with `httpAuth: "key"` or a JWT policy called without credentials.',
    ],
    fix: "Use a key of the tenant with a role that allows the action (`kumo keys create --role developer`).",
  },
  FN_010: {
    means: "A request or response body, an upload or a header block is larger than allowed (413).",
    causes: [
      "A request body over the function's `maxBodyBytes` (at most 10 MiB).",
      "A source upload over 50 MiB unpacked, 20 MiB per file or 5000 files.",
      "More than 100 response headers or 16 KiB of them.",
    ],
    fix: "Send less per request (upload large data elsewhere and pass a reference), or lower what the function returns.",
  },
  FN_500: {
    means: "An internal platform error: a bug in Kumo, not in your function.",
    causes: ["A dependency of the platform (PostgreSQL, NATS) failed in a way Kumo did not expect."],
    fix: "Retry; if it persists, report it with the request and the gateway's log around that time.",
  },
};
