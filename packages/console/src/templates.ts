/** Starting points for a first function: each is a complete, deployable edge function. */
export interface Template {
  id: string;
  title: string;
  description: string;
  files: Record<string, string>;
}

const webhook = `// Verifies the sender's HMAC-SHA256 signature before trusting the payload.
// Set the secret: PUT /v1/secrets/WEBHOOK_SECRET, then list it under "secrets" in kumo.json.
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
      return new Response("bad signature", { status: 401 });
    }
    const event = JSON.parse(body);
    console.log("webhook", event.type ?? "(no type)");
    return Response.json({ received: true });
  },
};

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
`;

const scheduled = `// Runs every hour (see "triggers" in kumo.json) and exports a summary.
// A cron firing arrives as a POST with a JSON event; you can also call it by hand.
export default {
  async fetch(request: Request, env: Record<string, string>): Promise<Response> {
    const firing = request.method === "POST" ? await request.json().catch(() => ({})) : {};
    const rows = [
      { day: new Date().toISOString().slice(0, 10), orders: 42, revenue: 1234.5 },
    ];
    const csv = ["day,orders,revenue", ...rows.map((r) => \`\${r.day},\${r.orders},\${r.revenue}\`)].join("\\n");
    console.log("export ran", JSON.stringify(firing));
    // Send it somewhere: await fetch(env.EXPORT_URL, { method: "POST", body: csv });
    return new Response(csv, { headers: { "content-type": "text/csv" } });
  },
};
`;

const lambda = `// Lambda style: an API Gateway v2-like event in, { statusCode, headers, body } out.
export async function handler(event: {
  rawPath: string;
  requestContext: { http: { method: string } };
  queryStringParameters?: Record<string, string>;
  body?: string;
}) {
  const name = event.queryStringParameters?.name ?? "world";
  console.log("hello", name);
  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: \`Hello, \${name}!\`, path: event.rawPath }),
  };
}
`;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export const TEMPLATES: readonly Template[] = [
  {
    id: "webhook",
    title: "Webhook with signature check",
    description: "Receives a POST, checks its HMAC-SHA256 signature against a secret, then handles it.",
    files: { "index.ts": webhook, "kumo.json": json({ runtime: "edge", timeoutMs: "10s" }) },
  },
  {
    id: "scheduled-export",
    title: "Scheduled export",
    description: "A cron trigger runs it every hour; it builds a CSV export.",
    files: {
      "index.ts": scheduled,
      "kumo.json": json({ runtime: "edge", triggers: [{ schedule: "0 * * * *", timezone: "UTC" }] }),
    },
  },
  {
    id: "lambda-api",
    title: "Lambda-style API",
    description: "export async function handler(event, context), as on AWS Lambda behind an HTTP API.",
    files: { "index.ts": lambda, "kumo.json": json({ runtime: "edge" }) },
  },
];
