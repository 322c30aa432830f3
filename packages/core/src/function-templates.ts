/**
 * Starting points for a new function, shared by `kumo init --template` and the console's templates
 * gallery. Plain data with no imports, so the browser bundle can take it as it is. Each template is a
 * complete edge function; `samples` are files only `kumo init` writes (a sample event and, where the
 * function needs a secret, a `.env` for local runs): the console deploys `files` alone.
 */

/** How `kumo test` feeds a template's sample to it. */
export type TemplateSampleKind = "request" | "event" | "input";

export interface FunctionTemplate {
  /** The name `kumo init --template` and the console's `?template=` take. */
  id: string;
  title: string;
  description: string;
  runtime: "edge";
  /** Deployed files, path → content; kumo.json has no name (the CLI and the console add it). */
  files: Record<string, string>;
  /** Local-only files: a sample invocation, and `.env` values for local runs. Never deployed. */
  samples: Record<string, string>;
  /** The `kumo test` flags that run the sample, e.g. `["--request", "request.json"]`. */
  sample: { kind: TemplateSampleKind; file: string; eventType?: string };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

const WEBHOOK = `// Verifies the sender's HMAC-SHA256 signature before trusting the payload.
// The secret: \`kumo secrets set WEBHOOK_SECRET=...\` (listed under "secrets" in kumo.json);
// locally, \`kumo dev\` and \`kumo test\` read it from .env.
export default {
  async fetch(request: Request, env: Record<string, string>): Promise<Response> {
    if (request.method !== "POST") return new Response("POST a webhook here", { status: 405 });
    const secret = env.WEBHOOK_SECRET;
    if (!secret) return new Response("WEBHOOK_SECRET is not set", { status: 503 });
    const body = await request.text();
    const given = request.headers.get("x-signature-256") ?? "";
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
    const expected = "sha256=" + [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (!timingSafeEqual(given, expected)) {
      console.warn("rejected a webhook with a bad signature");
      return Response.json({ error: "bad signature" }, { status: 401 });
    }
    const event = JSON.parse(body);
    console.log("webhook", event.type ?? "(no type)", event.id ?? "");
    return Response.json({ received: true, type: event.type ?? null, id: event.id ?? null });
  },
};

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
`;

// The sample is signed with the .env secret "dev-secret", so `kumo test` accepts it as it is.
const WEBHOOK_BODY = '{"type":"order.paid","id":"ord_1001","amount":4200}';
const WEBHOOK_SIGNATURE = "sha256=fe3da51333fd14483d3aa499dd08149deb6c1a7784301c5ada4078055c7ab5c7";

const SCHEDULED_EXPORT = `// Runs every hour (the cron trigger in kumo.json) and exports the hour since the previous run as CSV.
// A firing arrives as a POST with the JSON event { type: "cron", scheduledAt, lastScheduledAt, ... };
// a GET (or a POST without an event) exports the last hour.
interface Row {
  hour: string;
  orders: number;
  revenue: number;
}

export default {
  async fetch(request: Request, env: Record<string, string>): Promise<Response> {
    const firing = request.method === "POST" ? await request.json().catch(() => ({})) : {};
    const until = Date.parse(firing.scheduledAt ?? new Date().toISOString());
    const since = firing.lastScheduledAt ? Date.parse(firing.lastScheduledAt) : until - 3_600_000;
    const rows = loadRows(since, until);
    const csv = ["hour,orders,revenue", ...rows.map((r) => \`\${r.hour},\${r.orders},\${r.revenue.toFixed(2)}\`)].join("\\n");
    console.log(\`exported \${rows.length} rows from \${new Date(since).toISOString()} to \${new Date(until).toISOString()}\`);
    // Where the file goes: set EXPORT_URL (and "egress": true in kumo.json) to PUT it somewhere.
    if (env.EXPORT_URL) await fetch(env.EXPORT_URL, { method: "PUT", headers: { "content-type": "text/csv" }, body: csv });
    return new Response(csv, { headers: { "content-type": "text/csv", "x-export-rows": String(rows.length) } });
  },
};

/** Stands in for a query against your database: one row per hour of the window. */
function loadRows(since: number, until: number): Row[] {
  const rows: Row[] = [];
  for (let t = Math.ceil(since / 3_600_000) * 3_600_000; t < until; t += 3_600_000) {
    const hour = new Date(t).getUTCHours();
    rows.push({ hour: new Date(t).toISOString(), orders: 10 + hour, revenue: (10 + hour) * 12.5 });
  }
  return rows;
}
`;

const WORKFLOW_STEP = `// A workflow "Run Code" step: step(input, context) returns { output, nextPath }, and nextPath picks
// the workflow's branch. A throw takes the "error" branch (with the error as the step's error).
// Call it with POST /v1/functions/<name>/run {"input": {...}, "context": {...}}.
interface Order {
  orderId: string;
  amount: number;
  currency?: string;
}

interface StepContext {
  workflowId: string | null;
  runId: string | null;
  stepId: string | null;
  /** The workflow's variables (not the function's environment). */
  env: Record<string, string>;
}

export async function step(input: Order, context: StepContext) {
  if (typeof input?.amount !== "number" || input.amount < 0) {
    throw new Error("input.amount must be a non-negative number");
  }
  const limit = Number(context.env.APPROVAL_LIMIT ?? 1000);
  console.log(\`order \${input.orderId} of \${input.amount} (limit \${limit}) in run \${context.runId}\`);
  if (input.amount > limit) {
    return { output: { ...input, status: "needs-review", limit }, nextPath: "review" };
  }
  return { output: { ...input, status: "approved" }, nextPath: "approve" };
}
`;

const PII_MASK = `// Message middleware: masks personal data in a JSON message before it goes further. POST a message
// (or attach a queue trigger: "triggers": [{ "type": "queue", "queue": "raw-events" }] in kumo.json,
// and each message arrives as such a POST); the masked message is the answer, and with FORWARD_URL
// set (and "egress": true) it is also POSTed there.
const SECRET_KEYS = /^(password|passwd|secret|token|ssn|iban|card(number)?|cvv)$/i;
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\\.[A-Za-z]{2,})/g;
const CARD = /\\b(?:\\d[ -]?){12,15}(\\d{4})\\b/g;
const PHONE = /\\+?\\d[\\d ()-]{7,}\\d/g;

let masked = 0;

export default {
  async fetch(request: Request, env: Record<string, string>): Promise<Response> {
    if (request.method !== "POST") return new Response("POST a JSON message here", { status: 405 });
    let message: unknown;
    try {
      message = await request.json();
    } catch {
      return Response.json({ error: "the body must be JSON" }, { status: 400 });
    }
    masked = 0;
    const clean = mask(message, "");
    console.log(\`masked \${masked} value(s)\`);
    if (env.FORWARD_URL) {
      await fetch(env.FORWARD_URL, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(clean) });
    }
    return Response.json(clean, { headers: { "x-masked-values": String(masked) } });
  },
};

function mask(value: unknown, key: string): unknown {
  if (typeof value === "string") {
    if (SECRET_KEYS.test(key)) return hide("[redacted]");
    return maskText(value);
  }
  if (typeof value === "number" && SECRET_KEYS.test(key)) return hide("[redacted]");
  if (Array.isArray(value)) return value.map((item) => mask(item, key));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  return value;
}

function maskText(text: string): string {
  return text
    .replace(EMAIL, (_m, first: string, domain: string) => hide(\`\${first}***@\${domain}\`))
    .replace(CARD, (_m, last: string) => hide(\`**** **** **** \${last}\`))
    .replace(PHONE, (m) => hide(\`***\${m.replace(/\\D/g, "").slice(-2)}\`));
}

function hide(replacement: string): string {
  masked++;
  return replacement;
}
`;

const LAMBDA_API = `// Lambda style: an API Gateway v2-like event in, { statusCode, headers, body } out, as on AWS Lambda
// behind an HTTP API. A small items API: GET /items, GET /items/:id, POST /items.
interface HttpEvent {
  rawPath: string;
  requestContext: { http: { method: string } };
  queryStringParameters?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

// Kept while the isolate stays warm; use a database for anything real.
const items = new Map<string, { id: string; name: string }>([["1", { id: "1", name: "first item" }]]);

export async function handler(event: HttpEvent, context: { awsRequestId: string }) {
  const method = event.requestContext.http.method;
  const parts = event.rawPath.split("/").filter(Boolean);
  console.log(method, event.rawPath, context.awsRequestId);
  if (parts[0] !== "items") return reply(404, { error: \`no route for \${method} \${event.rawPath}\` });
  if (method === "GET" && parts.length === 1) {
    const limit = Number(event.queryStringParameters?.limit ?? 50);
    return reply(200, { items: [...items.values()].slice(0, limit) });
  }
  if (method === "GET" && parts.length === 2) {
    const item = items.get(parts[1] ?? "");
    return item ? reply(200, item) : reply(404, { error: \`item \${parts[1]} not found\` });
  }
  if (method === "POST" && parts.length === 1) {
    let body: { name?: unknown };
    try {
      body = JSON.parse(event.isBase64Encoded ? atob(event.body ?? "") : (event.body ?? "{}"));
    } catch {
      return reply(400, { error: "the body must be JSON" });
    }
    if (typeof body.name !== "string" || body.name === "") return reply(400, { error: "name is required" });
    const item = { id: String(items.size + 1), name: body.name };
    items.set(item.id, item);
    return reply(201, item);
  }
  return reply(405, { error: \`\${method} is not allowed on \${event.rawPath}\` });
}

function reply(statusCode: number, body: unknown) {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}
`;

export const FUNCTION_TEMPLATES: readonly FunctionTemplate[] = [
  {
    id: "webhook",
    title: "Webhook with signature check",
    description: "Receives a POST, checks its HMAC-SHA256 signature against a secret, then handles it.",
    runtime: "edge",
    files: {
      "index.ts": WEBHOOK,
      "kumo.json": json({ runtime: "edge", timeoutMs: "10s", secrets: ["WEBHOOK_SECRET"] }),
    },
    samples: {
      ".env": "# Local values for `kumo dev` and `kumo test` (never uploaded).\nWEBHOOK_SECRET=dev-secret\n",
      "request.json": json({
        method: "POST",
        path: "/",
        headers: { "content-type": "application/json", "x-signature-256": WEBHOOK_SIGNATURE },
        body: WEBHOOK_BODY,
      }),
    },
    sample: { kind: "request", file: "request.json" },
  },
  {
    id: "scheduled-export",
    title: "Scheduled export",
    description: "A cron trigger runs it every hour; it exports the hour since the previous run as CSV.",
    runtime: "edge",
    files: {
      "index.ts": SCHEDULED_EXPORT,
      "kumo.json": json({ runtime: "edge", triggers: [{ schedule: "0 * * * *", timezone: "UTC" }] }),
    },
    samples: {
      "event.json": json({
        type: "cron",
        triggerId: "trg_local",
        scheduledAt: "2026-01-05T12:00:00.000Z",
        firedAt: "2026-01-05T12:00:00.120Z",
        lastScheduledAt: "2026-01-05T09:00:00.000Z",
        manual: false,
      }),
    },
    sample: { kind: "event", file: "event.json", eventType: "cron" },
  },
  {
    id: "workflow-step",
    title: "Workflow step",
    description:
      "step(input, context) for a workflow's Run Code node: returns its output and the nextPath the workflow takes.",
    runtime: "edge",
    files: { "index.ts": WORKFLOW_STEP, "kumo.json": json({ runtime: "edge", timeoutMs: "5s" }) },
    samples: { "input.json": json({ orderId: "ord_1001", amount: 250, currency: "EUR" }) },
    sample: { kind: "input", file: "input.json" },
  },
  {
    id: "pii-mask",
    title: "PII-masking message middleware",
    description:
      "Masks e-mail addresses, card and phone numbers and secret fields in a JSON message (HTTP or a queue trigger).",
    runtime: "edge",
    files: { "index.ts": PII_MASK, "kumo.json": json({ runtime: "edge", timeoutMs: "5s" }) },
    samples: {
      "event.json": json({
        user: { name: "Ann", email: "ann.smith@example.com", phone: "+1 415 555 0134" },
        payment: { card: "4111 1111 1111 1111", note: "paid by card 4242-4242-4242-4242" },
        password: "hunter2",
      }),
    },
    sample: { kind: "event", file: "event.json", eventType: "queue" },
  },
  {
    id: "lambda-api",
    title: "Lambda-style API",
    description:
      "export async function handler(event, context), as on AWS Lambda behind an HTTP API: a small items API.",
    runtime: "edge",
    files: { "index.ts": LAMBDA_API, "kumo.json": json({ runtime: "edge" }) },
    samples: {
      "request.json": json({
        method: "POST",
        path: "/items",
        headers: { "content-type": "application/json" },
        body: { name: "second item" },
      }),
    },
    sample: { kind: "request", file: "request.json" },
  },
];

/** The template with this id, if there is one. */
export function functionTemplate(id: string): FunctionTemplate | undefined {
  return FUNCTION_TEMPLATES.find((template) => template.id === id);
}
