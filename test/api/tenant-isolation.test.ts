import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CallResult, startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createEdgeFunction, expectError, snapshotTables } from "./api-helpers.ts";
import { registeredRoutes } from "./route-list.ts";

/**
 * What a key of tenant B gets on a route aimed at tenant A's things:
 * - "not-found": 404 FN_001, exactly as if A's thing did not exist (never 403, never data);
 * - "own-scope": the route acts on B's own namespace (lists, whoami, creating a same-named thing);
 * - "platform-only": the route belongs to the platform admin and holds no tenant data (403).
 * - "unknown-reference": a body names A's thing; refused (400 FN_006) exactly as a name nobody has.
 * - "claimed": a hostname is one global namespace; claiming A's verified host is refused (409 FN_006) without
 *   naming the holder.
 */
type Expectation = "not-found" | "own-scope" | "platform-only" | "claimed" | "unknown-reference";

interface Fixture {
  a: {
    name: string;
    id: string;
    key: string;
    keyId: string;
    depId: string;
    invocationId: string;
    fnId: string;
    routeId: string;
    rolloutId: string;
    hostname: string;
    triggerId: string;
    alertRuleId: string;
  };
  b: { name: string; id: string; key: string; depId: string };
}

interface RouteCase {
  /** The registered route this case covers, as "METHOD /path" with fastify's placeholders. */
  route: string;
  method: string;
  url: (f: Fixture) => string;
  body?: unknown;
  expect: Expectation;
  /** For cases whose body or headers name A's things. */
  bodyOf?: (f: Fixture) => unknown;
  headersOf?: (f: Fixture) => Record<string, string>;
  /** Extra checks for own-scope answers. */
  check?: (res: CallResult, f: Fixture) => void | Promise<void>;
}

const A_ENV_VALUE = "alpha-env-value-7f3a";
const A_SECRET_VALUE = "alpha-secret-value-91c2";
const A_EVENT_ID = "alpha-event-1";
const A_EVENT_MARK = "alpha-event-data-5d1e";
const A_QUEUE = "alpha-private";
const A_QUEUE_MESSAGE_ID = "alpha-queue-message-1";
const A_QUEUE_MARK = "alpha-queue-data-8b2c";
const A_ALERT_NAME = "alpha-errors-3c9d";
const deploy = {
  files: { "index.ts": "export default { fetch() { return new Response('b wrote this') } }" },
};

const ROUTES: RouteCase[] = [
  { route: "GET /v1/functions/:name", method: "GET", url: () => "/v1/functions/alpha", expect: "not-found" },
  {
    route: "PATCH /v1/functions/:name",
    method: "PATCH",
    url: () => "/v1/functions/alpha",
    body: { config: { memoryMb: 256 } },
    expect: "not-found",
  },
  {
    route: "DELETE /v1/functions/:name",
    method: "DELETE",
    url: () => "/v1/functions/alpha",
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/deployments",
    method: "GET",
    url: () => "/v1/functions/alpha/deployments",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/deployments",
    method: "POST",
    url: () => "/v1/functions/alpha/deployments",
    body: deploy,
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/deployments/:id",
    method: "GET",
    url: (f) => `/v1/functions/alpha/deployments/${f.a.depId}`,
    expect: "not-found",
  },
  // B's own function with A's deployment id: ids are no way around tenant scoping.
  {
    route: "GET /v1/functions/:name/deployments/:id",
    method: "GET",
    url: (f) => `/v1/functions/bravo/deployments/${f.a.depId}`,
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/versions",
    method: "GET",
    url: () => "/v1/functions/alpha/versions",
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/versions/:version",
    method: "GET",
    url: () => "/v1/functions/alpha/versions/1",
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/versions/:version/source",
    method: "GET",
    url: () => "/v1/functions/alpha/versions/1/source",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/draft-runs",
    method: "POST",
    url: () => "/v1/functions/alpha/draft-runs",
    body: { files: { "index.ts": "export default { fetch() { return new Response('b draft') } }" } },
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/aliases",
    method: "GET",
    url: () => "/v1/functions/alpha/aliases",
    expect: "not-found",
  },
  {
    route: "PUT /v1/functions/:name/aliases/:alias",
    method: "PUT",
    url: () => "/v1/functions/alpha/aliases/canary",
    body: { routing: [{ version: 1, weight: 100 }] },
    expect: "not-found",
  },
  {
    route: "DELETE /v1/functions/:name/aliases/:alias",
    method: "DELETE",
    url: () => "/v1/functions/alpha/aliases/canary",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/rollback",
    method: "POST",
    url: () => "/v1/functions/alpha/rollback",
    body: {},
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/env",
    method: "GET",
    url: () => "/v1/functions/alpha/env",
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/env/:key",
    method: "GET",
    url: () => "/v1/functions/alpha/env/FOO",
    expect: "not-found",
  },
  {
    route: "PUT /v1/functions/:name/env/:key",
    method: "PUT",
    url: () => "/v1/functions/alpha/env/FOO",
    body: { value: "b-was-here" },
    expect: "not-found",
  },
  {
    route: "DELETE /v1/functions/:name/env/:key",
    method: "DELETE",
    url: () => "/v1/functions/alpha/env/FOO",
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/invocations",
    method: "GET",
    url: () => "/v1/functions/alpha/invocations",
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/logs",
    method: "GET",
    url: () => "/v1/functions/alpha/logs",
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/logs",
    method: "GET",
    url: (f) => `/v1/functions/alpha/logs?invocationId=${f.a.invocationId}&q=a`,
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/logs/export",
    method: "GET",
    url: () => "/v1/functions/alpha/logs/export",
    expect: "not-found",
  },
  {
    route: "GET /v1/invocations/:id",
    method: "GET",
    url: (f) => `/v1/invocations/${f.a.invocationId}`,
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/invoke",
    method: "POST",
    url: () => "/v1/functions/alpha/invoke",
    body: "hi",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/invoke",
    method: "POST",
    url: () => "/v1/functions/alpha@v1/invoke",
    body: "hi",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/invoke",
    method: "POST",
    url: () => "/v1/functions/alpha@canary/invoke",
    body: "hi",
    expect: "not-found",
  },
  {
    // Code of no function: B runs its own, and sees only the env it sent (never A's values).
    route: "POST /v1/run",
    method: "POST",
    url: () => "/v1/run",
    body: {
      runtime: "edge",
      code: "export function step(input, context) { return { input, env: Object.keys(process.env) }; }",
      input: { fn: "alpha" },
      env: { B_ONLY: "b" },
    },
    expect: "own-scope",
    check: (res) => {
      expect(res.json.output).toEqual({ input: { fn: "alpha" }, env: ["B_ONLY"] });
    },
  },
  {
    route: "POST /v1/functions/:name/run",
    method: "POST",
    url: () => "/v1/functions/alpha/run",
    body: { input: { n: 1 }, context: { workflowId: "wf-b" } },
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/run",
    method: "POST",
    url: () => "/v1/functions/alpha@v1/run",
    body: { input: null },
    headersOf: () => ({ "kumo-invocation-type": "async" }),
    expect: "not-found",
  },
  { route: "GET /v1/secrets/:name", method: "GET", url: () => "/v1/secrets/A_SECRET", expect: "not-found" },
  {
    route: "DELETE /v1/secrets/:name",
    method: "DELETE",
    url: () => "/v1/secrets/A_SECRET",
    expect: "not-found",
  },
  {
    route: "GET /v1/tenants/:tenant/api-keys",
    method: "GET",
    url: (f) => `/v1/tenants/${f.a.name}/api-keys`,
    expect: "not-found",
  },
  {
    route: "POST /v1/tenants/:tenant/api-keys",
    method: "POST",
    url: (f) => `/v1/tenants/${f.a.name}/api-keys`,
    body: { role: "admin" },
    expect: "not-found",
  },
  {
    route: "DELETE /v1/tenants/:tenant/api-keys/:id",
    method: "DELETE",
    url: (f) => `/v1/tenants/${f.a.name}/api-keys/${f.a.keyId}`,
    expect: "not-found",
  },
  // B's own tenant in the URL with A's key id.
  {
    route: "DELETE /v1/tenants/:tenant/api-keys/:id",
    method: "DELETE",
    url: (f) => `/v1/tenants/${f.b.name}/api-keys/${f.a.keyId}`,
    expect: "not-found",
  },
  { route: "ALL /fn/:tenant/:fn", method: "GET", url: (f) => `/fn/${f.a.name}/alpha`, expect: "not-found" },
  {
    route: "ALL /fn/:tenant/:fn",
    method: "POST",
    url: (f) => `/fn/${f.a.name}/alpha@v1`,
    body: "hi",
    expect: "not-found",
  },
  {
    route: "ALL /fn/:tenant/:fn/*",
    method: "GET",
    url: (f) => `/fn/${f.a.name}/alpha/some/path`,
    expect: "not-found",
  },
  {
    route: "ALL /fn/:tenant/:fn/*",
    method: "DELETE",
    url: (f) => `/fn/${f.a.name}/alpha@canary/x`,
    expect: "not-found",
  },

  // The git remote of A's function, with B's key (git sends it as Basic; a Bearer header works too).
  {
    route: "GET /git/:tenant/:repo/info/refs",
    method: "GET",
    url: (f) => `/git/${f.a.name}/alpha.git/info/refs?service=git-receive-pack`,
    expect: "not-found",
  },
  {
    route: "POST /git/:tenant/:repo/git-receive-pack",
    method: "POST",
    url: (f) => `/git/${f.a.name}/alpha.git/git-receive-pack`,
    expect: "not-found",
  },
  {
    route: "POST /git/:tenant/:repo/git-upload-pack",
    method: "POST",
    url: (f) => `/git/${f.a.name}/alpha.git/git-upload-pack`,
    expect: "not-found",
  },
  // Routes scoped by the caller's key rather than by the URL: B sees and changes only its own.
  // Routing: rollouts, custom routes, domains and the routed public paths.
  {
    route: "GET /v1/functions/:name/rollouts",
    method: "GET",
    url: () => "/v1/functions/alpha/rollouts",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/rollouts",
    method: "POST",
    url: () => "/v1/functions/alpha/rollouts",
    body: { to: 1, steps: [100], interval: "1h" },
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/rollouts/:id",
    method: "GET",
    url: (f) => `/v1/functions/alpha/rollouts/${f.a.rolloutId}`,
    expect: "not-found",
  },
  // B's own function with A's rollout id.
  {
    route: "GET /v1/functions/:name/rollouts/:id",
    method: "GET",
    url: (f) => `/v1/functions/bravo/rollouts/${f.a.rolloutId}`,
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/rollouts/:id/cancel",
    method: "POST",
    url: (f) => `/v1/functions/bravo/rollouts/${f.a.rolloutId}/cancel`,
    expect: "not-found",
  },
  // Alert rules: B sees its own (none of A's), and A's rule id is not found for B.
  {
    route: "GET /v1/alerts",
    method: "GET",
    url: () => "/v1/alerts",
    expect: "own-scope",
    check: (res) => {
      expect(res.status, res.body).toBe(200);
      expect(res.body).not.toContain(A_ALERT_NAME);
    },
  },
  {
    route: "POST /v1/alerts",
    method: "POST",
    url: () => "/v1/alerts",
    body: {
      name: "b-rule",
      function: "alpha",
      metric: "error_rate",
      threshold: 0.1,
      webhook: { url: "https://hooks.example.com/b" },
    },
    expect: "not-found",
  },
  {
    route: "GET /v1/alerts/:id",
    method: "GET",
    url: (f) => `/v1/alerts/${f.a.alertRuleId}`,
    expect: "not-found",
  },
  {
    route: "PATCH /v1/alerts/:id",
    method: "PATCH",
    url: (f) => `/v1/alerts/${f.a.alertRuleId}`,
    body: { paused: true },
    expect: "not-found",
  },
  {
    route: "DELETE /v1/alerts/:id",
    method: "DELETE",
    url: (f) => `/v1/alerts/${f.a.alertRuleId}`,
    expect: "not-found",
  },
  // Triggers: A's function, and B's own function with A's trigger id.
  {
    route: "GET /v1/functions/:name/triggers",
    method: "GET",
    url: () => "/v1/functions/alpha/triggers",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/triggers",
    method: "POST",
    url: () => "/v1/functions/alpha/triggers",
    body: { schedule: "* * * * *" },
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/triggers/:id",
    method: "GET",
    url: (f) => `/v1/functions/alpha/triggers/${f.a.triggerId}`,
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/triggers/:id",
    method: "GET",
    url: (f) => `/v1/functions/bravo/triggers/${f.a.triggerId}`,
    expect: "not-found",
  },
  {
    route: "PATCH /v1/functions/:name/triggers/:id",
    method: "PATCH",
    url: (f) => `/v1/functions/bravo/triggers/${f.a.triggerId}`,
    body: { paused: true },
    expect: "not-found",
  },
  {
    route: "PATCH /v1/functions/:name/triggers/:id",
    method: "PATCH",
    url: (f) => `/v1/functions/alpha/triggers/${f.a.triggerId}`,
    body: { schedule: "* * * * * *" },
    expect: "not-found",
  },
  {
    route: "DELETE /v1/functions/:name/triggers/:id",
    method: "DELETE",
    url: (f) => `/v1/functions/bravo/triggers/${f.a.triggerId}`,
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/triggers/:id/fire",
    method: "POST",
    url: (f) => `/v1/functions/bravo/triggers/${f.a.triggerId}/fire`,
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/triggers/:id/fire",
    method: "POST",
    url: (f) => `/v1/functions/alpha/triggers/${f.a.triggerId}/fire`,
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/triggers/:id/next",
    method: "GET",
    url: (f) => `/v1/functions/bravo/triggers/${f.a.triggerId}/next`,
    expect: "not-found",
  },
  {
    route: "GET /v1/functions/:name/metrics",
    method: "GET",
    url: () => "/v1/functions/alpha/metrics?from=24h",
    expect: "not-found",
  },
  // The tenant overview lists B's own functions only, never A's invoked function.
  {
    route: "GET /v1/metrics",
    method: "GET",
    url: () => "/v1/metrics?from=24h&limit=100",
    expect: "own-scope",
    check: (res) => {
      expect(res.status, res.body).toBe(200);
      const lists = [res.json.topByInvocations, res.json.topByErrors, res.json.topByP95] as {
        name: string;
      }[][];
      for (const list of lists) expect(list.filter((f) => f.name !== "bravo")).toEqual([]);
    },
  },
  // The console's list figures: A's function name gives nothing, exactly like a name nobody has.
  {
    route: "GET /v1/metrics/functions",
    method: "GET",
    url: () => "/v1/metrics/functions?names=alpha,bravo&from=24h",
    expect: "own-scope",
    check: (res) => {
      expect(res.status, res.body).toBe(200);
      expect(res.json.items.map((f: { name: string }) => f.name)).toEqual(["bravo"]);
    },
  },
  // Events: A has an event trigger for "order.*" and published an event; B's publish of the
  // same type reaches only B's own subscribers (none), and B's list shows none of A's events.
  {
    route: "GET /v1/events",
    method: "GET",
    url: () => "/v1/events?limit=500",
    expect: "own-scope",
    check: (res) => {
      const items = res.json.items as { id: string; data: unknown }[];
      expect(items.filter((e) => e.id === A_EVENT_ID)).toEqual([]);
    },
  },
  {
    route: "POST /v1/events",
    method: "POST",
    url: () => "/v1/events",
    body: { type: "order.created", data: { from: "b" } },
    expect: "own-scope",
    check: (res) => {
      expect(res.status, res.body).toBe(202);
      expect(res.json.deliveries).toEqual([]);
    },
  },
  // Queues: A published to its queue "alpha-private"; B's list does not show it, B's publish to the
  // same name goes to B's own queue, and B sees no dead letters of A's.
  {
    route: "GET /v1/queues",
    method: "GET",
    url: () => "/v1/queues",
    expect: "own-scope",
    check: (res) => {
      expect(res.status, res.body).toBe(200);
      expect(res.json.items.filter((q: { queue: string }) => q.queue === A_QUEUE)).toEqual([]);
    },
  },
  {
    route: "GET /v1/queues/:name/dead-letters",
    method: "GET",
    url: () => `/v1/queues/${A_QUEUE}/dead-letters`,
    expect: "own-scope",
    check: (res) => {
      expect(res.json.items).toEqual([]);
    },
  },
  {
    route: "POST /v1/queues/:name/messages",
    method: "POST",
    url: () => `/v1/queues/${A_QUEUE}/messages`,
    // A's message id: dedupe is per tenant, so B's message is stored, not taken for A's.
    body: { data: { from: "b" }, id: A_QUEUE_MESSAGE_ID },
    expect: "own-scope",
    check: (res) => {
      expect(res.status, res.body).toBe(202);
      expect(res.json.messages[0].duplicate).toBe(false);
    },
  },
  {
    route: "GET /v1/routes/:id",
    method: "GET",
    url: (f) => `/v1/routes/${f.a.routeId}`,
    expect: "not-found",
  },
  {
    route: "DELETE /v1/routes/:id",
    method: "DELETE",
    url: (f) => `/v1/routes/${f.a.routeId}`,
    expect: "not-found",
  },
  {
    // B cannot route to A's function: the function name resolves in B's namespace only.
    route: "POST /v1/routes",
    method: "POST",
    url: () => "/v1/routes",
    body: { method: "GET", path: "/steal", function: "alpha" },
    expect: "unknown-reference",
  },
  {
    route: "GET /v1/routes",
    method: "GET",
    url: () => "/v1/routes",
    expect: "own-scope",
    check: (res) => expect(res.json.items).toEqual([]),
  },
  {
    route: "GET /v1/domains",
    method: "GET",
    url: () => "/v1/domains",
    expect: "own-scope",
    check: (res) => expect(res.json.items).toEqual([]),
  },
  {
    route: "GET /v1/domains/:hostname",
    method: "GET",
    url: (f) => `/v1/domains/${f.a.hostname}`,
    expect: "not-found",
  },
  {
    route: "DELETE /v1/domains/:hostname",
    method: "DELETE",
    url: (f) => `/v1/domains/${f.a.hostname}`,
    expect: "not-found",
  },
  {
    route: "POST /v1/domains/:hostname/verify",
    method: "POST",
    url: (f) => `/v1/domains/${f.a.hostname}/verify`,
    expect: "not-found",
  },
  {
    route: "POST /v1/domains/:hostname/approve",
    method: "POST",
    url: (f) => `/v1/domains/${f.a.hostname}/approve`,
    expect: "platform-only",
  },
  {
    route: "POST /v1/domains",
    method: "POST",
    url: () => "/v1/domains",
    bodyOf: (f) => ({ hostname: f.a.hostname }),
    expect: "claimed",
  },
  {
    route: "GET /v1/functions/:name/dead-letters",
    method: "GET",
    url: () => "/v1/functions/alpha/dead-letters",
    expect: "not-found",
  },
  {
    route: "POST /v1/functions/:name/dead-letters/:id/redrive",
    method: "POST",
    url: (f) => `/v1/functions/alpha/dead-letters/${f.a.invocationId}/redrive`,
    expect: "not-found",
  },
  // A's route is key-protected (alpha has httpAuth "key"): B's key is "not found", as on /fn.
  { route: "ALL /r/:tenant/*", method: "GET", url: (f) => `/r/${f.a.name}/a-only`, expect: "not-found" },
  { route: "ALL /r/:tenant", method: "GET", url: (f) => `/r/${f.a.name}`, expect: "not-found" },
  {
    route: "ALL /_kumo-host/*",
    method: "GET",
    // A request for A's apps-domain host is served under /_kumo-host.
    url: () => "/a-only",
    headersOf: (f) => ({ host: `${f.a.name}.kumo.localhost` }),
    expect: "not-found",
  },
  { route: "ALL /_kumo-host", method: "GET", url: () => "/_kumo-host", expect: "not-found" },
  {
    route: "GET /v1/functions",
    method: "GET",
    url: () => "/v1/functions?limit=500",
    expect: "own-scope",
    check: (res) => expect(res.json.items.map((f: { name: string }) => f.name)).toEqual(["bravo"]),
  },
  // Search is scoped too: A's name finds nothing.
  {
    route: "GET /v1/functions",
    method: "GET",
    url: () => "/v1/functions?q=alph",
    expect: "own-scope",
    check: (res) => expect(res.json.items).toEqual([]),
  },
  {
    route: "GET /v1/secrets",
    method: "GET",
    url: () => "/v1/secrets?limit=500",
    expect: "own-scope",
    check: (res) => expect(res.json.items).toEqual([]),
  },
  {
    route: "GET /v1/whoami",
    method: "GET",
    url: () => "/v1/whoami",
    expect: "own-scope",
    check: (res, f) => expect(res.json.tenant).toEqual({ id: f.b.id, name: f.b.name }),
  },
  {
    // B's audit log: only B's own entries, whatever filter names A's things.
    route: "GET /v1/audit",
    method: "GET",
    // B's refused attempts on A's things are in B's log too (outcome "failed"/"denied"), holding the
    // paths B itself sent, A's ids among them; what B did ("ok") is never about A.
    url: () => "/v1/audit?limit=500&outcome=ok",
    expect: "own-scope",
    check: (res, f) => {
      const targets = res.json.items.map((e: { target: string }) => e.target);
      expect(targets).toContain(`tenant/${f.b.name}`);
      expect(targets.some((t: string) => t.includes("alpha") || t.includes(f.a.name))).toBe(false);
    },
  },
  {
    route: "GET /v1/audit",
    method: "GET",
    url: () => "/v1/audit?target=function/alpha",
    expect: "own-scope",
    check: (res) => expect(res.json.items).toEqual([]),
  },
  {
    // Same name as A's secret: B gets its own version 1, A's is not rotated.
    route: "PUT /v1/secrets/:name",
    method: "PUT",
    url: () => "/v1/secrets/A_SECRET",
    body: { value: "b-secret" },
    expect: "own-scope",
    check: (res) => {
      expect(res.status, res.body).toBe(200);
      expect(res.json.version).toBe(1);
    },
  },
  {
    // Same name as A's function: created in B (a 409 would reveal that A has one).
    route: "POST /v1/functions",
    method: "POST",
    url: () => "/v1/functions",
    body: { name: "alpha", runtime: "edge" },
    expect: "own-scope",
    check: (res, f) => {
      expect(res.status, res.body).toBe(201);
      expect(res.json.id).not.toBe(f.a.fnId);
      expect(res.json.url).toContain(`/fn/${f.b.name}/alpha/`);
    },
  },
  {
    // The platform admin's view across tenants: a tenant key naming another tenant finds nothing.
    route: "GET /v1/audit",
    method: "GET",
    url: (f) => `/v1/audit?tenant=${f.a.name}`,
    expect: "not-found",
  },
  {
    route: "GET /v1/tenants/:tenant/quotas",
    method: "GET",
    url: (f) => `/v1/tenants/${f.a.name}/quotas`,
    expect: "not-found",
  },
  {
    route: "PUT /v1/tenants/:tenant/quotas",
    method: "PUT",
    url: (f) => `/v1/tenants/${f.a.name}/quotas`,
    body: { functions: 1000 },
    expect: "platform-only",
  },
  {
    route: "GET /v1/usage",
    method: "GET",
    url: () => "/v1/usage",
    expect: "own-scope",
    // B's own use: its one function (and "alpha", created by an own-scope case above, if it ran).
    check: (res, f) => {
      expect(res.json.tenant).toBe(f.b.name);
      expect(res.json.usage.functions.used).toBeGreaterThanOrEqual(1);
      expect(res.json.usage.functions.used).toBeLessThanOrEqual(2);
    },
  },
  {
    route: "GET /v1/usage",
    method: "GET",
    url: (f) => `/v1/usage?tenant=${f.a.name}`,
    expect: "not-found",
  },
  { route: "GET /v1/tenants", method: "GET", url: () => "/v1/tenants", expect: "platform-only" },
  {
    route: "POST /v1/tenants",
    method: "POST",
    url: () => "/v1/tenants",
    body: { name: "from-b" },
    expect: "platform-only",
  },
  {
    route: "PATCH /v1/tenants/:tenant",
    method: "PATCH",
    url: (f) => `/v1/tenants/${f.a.name}`,
    body: { logRetentionDays: 1 },
    expect: "platform-only",
  },
];

/** Routes with no tenant data at all: infrastructure and documentation. */
const NOT_TENANT_ROUTES = [
  // The console's static pages and assets: no tenant data until it calls /v1 with a key.
  "GET /",
  "GET /signin",
  "GET /new",
  "GET /secrets",
  "GET /keys",
  "GET /alerts",
  "GET /tenants",
  "GET /functions",
  "GET /functions/*",
  "GET /assets/:file",
  // The guide (docs/, built by VitePress): static pages, the same for everyone.
  "GET /guide",
  "GET /guide/*",
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
  "GET /v1/schema/kumo.json",
];
const isDocsRoute = (route: string) => / \/docs(\/|$)/.test(route);

describe("tenant isolation", () => {
  let t: TestGateway;
  let f: Fixture;
  let before: Record<string, string[]>;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    const a = await t.tenant();
    const b = await t.tenant();
    const aInvoker = await t.key(a.name, a.key, "invoker");
    await createEdgeFunction(t, a.key, "alpha", [], { httpAuth: "key", secrets: [] });
    expect(
      (await t.call("PUT", "/v1/secrets/A_SECRET", { key: a.key, body: { value: A_SECRET_VALUE } })).status,
    ).toBe(200);
    expect(
      (await t.call("PUT", "/v1/functions/alpha/env/FOO", { key: a.key, body: { value: A_ENV_VALUE } }))
        .status,
    ).toBe(200);
    let depId = "";
    for (const text of ["alpha one", "alpha two"]) {
      const dep = await t.call("POST", "/v1/functions/alpha/deployments", {
        key: a.key,
        body: {
          files: {
            "index.ts": `export default { fetch(req: Request, env: any) { console.log("alpha log"); return new Response(${JSON.stringify(text)} + ' ' + env.FOO) } }`,
          },
          config: { httpAuth: "key", secrets: ["A_SECRET"] },
        },
      });
      expect(dep.status, dep.body).toBe(202);
      depId = dep.json.id;
    }
    expect(
      (
        await t.call("PUT", "/v1/functions/alpha/aliases/canary", {
          key: a.key,
          body: { routing: [{ version: 1, weight: 100 }] },
        })
      ).status,
    ).toBe(200);
    const invoked = await t.call("POST", "/v1/functions/alpha/invoke", { key: aInvoker.key, body: "hi" });
    expect(invoked.body).toBe(`alpha two ${A_ENV_VALUE}`);
    expect((await t.call("GET", `/fn/${a.name}/alpha@canary/`, { key: aInvoker.key })).body).toBe(
      `alpha one ${A_ENV_VALUE}`,
    );
    await t.gateway.flushRecords();
    const history = await t.call("GET", "/v1/functions/alpha/invocations", { key: a.key });
    expect(history.json.items.length).toBe(2);
    const fn = await t.call("GET", "/v1/functions/alpha", { key: a.key });

    await createEdgeFunction(t, b.key, "bravo", ["bravo one"]);
    const bDeps = await t.call("GET", "/v1/functions/bravo/deployments", { key: b.key });
    // A's routing: a custom route, a claimed domain and a running rollout (long interval: it stays put).
    const route = await t.call("POST", "/v1/routes", {
      key: a.key,
      body: { method: "GET", path: "/a-only", function: "alpha" },
    });
    expect(route.status, route.body).toBe(201);
    const hostname = `shop-${a.name}.example.com`;
    expect((await t.call("POST", "/v1/domains", { key: a.key, body: { hostname } })).status).toBe(201);
    // Verified (by the platform admin): only a verified hostname is A's alone; a pending claim blocks nobody.
    const approved = await t.call("POST", `/v1/domains/${hostname}/approve`, { key: t.adminKey });
    expect(approved.status, approved.body).toBe(200);
    const rollout = await t.call("POST", "/v1/functions/alpha/rollouts", {
      key: a.key,
      body: { to: 2, steps: [50, 100], interval: "1h", alias: "canary" },
    });
    expect(rollout.status, rollout.body).toBe(201);
    const trigger = await t.call("POST", "/v1/functions/alpha/triggers", {
      key: a.key,
      body: { schedule: "0 2 * * *", timezone: "Europe/Berlin", paused: true },
    });
    expect(trigger.status, trigger.body).toBe(201);
    const eventTrigger = await t.call("POST", "/v1/functions/alpha/triggers", {
      key: a.key,
      body: { type: "event", eventType: "order.*" },
    });
    expect(eventTrigger.status, eventTrigger.body).toBe(201);
    // An event nobody subscribes to: it is stored, and nothing is invoked.
    const event = await t.call("POST", "/v1/events", {
      key: a.key,
      body: { type: "internal.note", id: A_EVENT_ID, data: { mark: A_EVENT_MARK } },
    });
    expect(event.status, event.body).toBe(202);
    const queued = await t.call("POST", `/v1/queues/${A_QUEUE}/messages`, {
      key: a.key,
      body: { data: { mark: A_QUEUE_MARK }, id: A_QUEUE_MESSAGE_ID },
    });
    expect(queued.status, queued.body).toBe(202);
    const alertRule = await t.call("POST", "/v1/alerts", {
      key: a.key,
      body: {
        name: A_ALERT_NAME,
        function: "alpha",
        metric: "error_rate",
        threshold: 0.05,
        webhook: { url: "https://hooks.example.com/alpha/secret-path" },
      },
    });
    expect(alertRule.status, alertRule.body).toBe(201);
    f = {
      a: {
        ...a,
        keyId: aInvoker.id,
        depId,
        invocationId: history.json.items[0].id,
        fnId: fn.json.id,
        routeId: route.json.id,
        rolloutId: rollout.json.id,
        hostname,
        triggerId: trigger.json.id,
        alertRuleId: alertRule.json.id,
      },
      b: { ...b, depId: bDeps.json.items[0].id },
    };
    before = await snapshotTables(t.gateway.database.db, t.schema, a.id);
    expect(before.invocations?.length).toBe(2);
    expect(before.logs?.length).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("isolation - the route table covers every route the gateway registers", () => {
    const registered = registeredRoutes(t.gateway.app);
    const covered = new Set([...ROUTES.map((r) => r.route), ...NOT_TENANT_ROUTES]);
    const missing = registered.filter((r) => !covered.has(r) && !isDocsRoute(r));
    expect(missing, "routes without a tenant-isolation case: add them to ROUTES").toEqual([]);
    const stale = [...covered].filter((r) => !registered.includes(r));
    expect(stale, "cases for routes that no longer exist").toEqual([]);
  });

  for (const [index, c] of ROUTES.entries()) {
    it(`isolation - tenant B's admin key: ${c.method} on ${c.route} is ${c.expect} (#${index + 1})`, async () => {
      const url = c.url(f);
      const body = c.bodyOf ? c.bodyOf(f) : c.body;
      const res = await t.call(c.method, url, {
        key: f.b.key,
        body,
        ...(c.headersOf ? { headers: c.headersOf(f) } : {}),
      });
      if (c.expect === "not-found") {
        expectError(res, 404, "FN_001");
      } else if (c.expect === "unknown-reference") {
        expectError(res, 400, "FN_006");
        const nobody = await t.call(c.method, url, {
          key: f.b.key,
          body: JSON.parse(JSON.stringify(body).replaceAll('"alpha"', '"no-such-fn"')),
        });
        expect(res.json.error.message.replaceAll("alpha", "no-such-fn")).toBe(nobody.json.error.message);
      } else if (c.expect === "claimed") {
        expectError(res, 409, "FN_006");
        expect(res.body).not.toContain(f.a.name);
      } else if (c.expect === "platform-only") {
        expectError(res, 403, "FN_009");
      } else {
        expect(res.status, res.body).toBeLessThan(300);
      }
      await c.check?.(res, f);
      // Nothing of A's leaks into any answer: ids, values or names B did not send itself.
      const sent = `${url} ${JSON.stringify(body ?? "")}`;
      for (const marker of [
        f.a.id,
        f.a.fnId,
        f.a.depId,
        f.a.invocationId,
        f.a.keyId,
        A_ENV_VALUE,
        A_SECRET_VALUE,
        A_EVENT_ID,
        A_EVENT_MARK,
        A_QUEUE_MARK,
        "alpha one",
        "alpha two",
      ]) {
        if (!sent.includes(marker))
          expect(res.body, `${c.method} ${url} leaked ${marker}`).not.toContain(marker);
      }
    });
  }

  it("isolation - tenant A's data is unchanged after everything tenant B tried", async () => {
    await t.gateway.flushRecords();
    const after = await snapshotTables(t.gateway.database.db, t.schema, f.a.id);
    expect(after).toEqual(before);
    // And A still works as before.
    const aInvoker = await t.key(f.a.name, f.a.key, "invoker");
    const res = await t.call("POST", "/v1/functions/alpha/invoke", { key: aInvoker.key, body: "hi" });
    expect(res.body).toBe(`alpha two ${A_ENV_VALUE}`);
  });
});
