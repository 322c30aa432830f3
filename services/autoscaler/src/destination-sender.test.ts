import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeliveryOutcome, DestinationSender, destinationPayload } from "./destination-sender.ts";

// Only 127.0.0.1 is ever contacted, and only with allowPrivate on; the refusals below are decided
// before any connection (the resolver is injected, so no DNS query leaves the machine either).
let server: Server;
let base = "";
const hits: { path: string; body: unknown; headers: Record<string, unknown> }[] = [];
const plan = new Map<string, number[]>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      hits.push({ path, body: JSON.parse(Buffer.concat(chunks).toString("utf8")), headers: req.headers });
      const statuses = plan.get(path) ?? [];
      res.writeHead(statuses.shift() ?? 204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

function sender(allowPrivate: boolean, resolve?: (host: string) => Promise<string[]>) {
  const outcomes: DeliveryOutcome[] = [];
  const s = new DestinationSender({
    allowPrivate,
    timeoutMs: 2000,
    retries: 2,
    retryBaseMs: 10,
    ...(resolve ? { resolve } : {}),
    onOutcome: (o) => outcomes.push(o),
  });
  return { s, outcomes };
}

const payload = destinationPayload({
  invocationId: "inv-1",
  functionName: "fn",
  version: 3,
  attempts: 1,
  error: undefined,
  response: {
    status: 200,
    headers: [["content-type", "application/json"]],
    body: Buffer.from(`{"x":"${"a".repeat(40_000)}"}`),
  },
});
const owner = { tenantId: "t", functionId: "f" };

describe("destination sender", () => {
  it("destinations - the payload carries id, function, version, status and a truncated result", () => {
    expect(payload).toMatchObject({ invocationId: "inv-1", function: "fn", version: 3, status: "succeeded" });
    expect(payload.errorCode).toBeNull();
    expect(payload.result).toMatchObject({ statusCode: 200, bodyEncoding: "utf8", truncated: true });
    expect(payload.result?.body.length).toBe(32 * 1024);
  });

  it("destinations - loopback, private and metadata addresses are refused after resolution, nothing is sent", async () => {
    const resolved: Record<string, string[]> = {
      "metadata.internal.test": ["169.254.169.254"],
      "mixed.internal.test": ["203.0.113.9", "10.1.2.3"],
      "db.internal.test": ["fd00::5"],
    };
    const { s, outcomes } = sender(false, async (host) => resolved[host] ?? []);
    const before = hits.length;
    for (const url of [
      "http://metadata.internal.test/latest",
      "https://mixed.internal.test/hook",
      "http://db.internal.test/x",
      `${base}/literal`,
      "http://[::ffff:127.0.0.1]:9/x",
    ])
      await s.send("onSuccess", url, payload, owner);
    expect(outcomes.map((o) => [o.refused, o.attempts])).toEqual(Array(5).fill([true, 1]));
    expect(outcomes[0]?.error).toContain("169.254.169.254");
    expect(hits.length).toBe(before);
  });

  it("destinations - retries 5xx with backoff until delivered; a 4xx is not retried", async () => {
    const { s, outcomes } = sender(true);
    plan.set("/flaky", [503, 500, 200]);
    plan.set("/gone", [404]);
    await s.send("onFailure", `${base}/flaky`, payload, owner);
    await s.send("onSuccess", `${base}/gone`, payload, owner);
    expect(outcomes[0]).toMatchObject({ delivered: true, attempts: 3, statusCode: 200 });
    expect(outcomes[1]).toMatchObject({ delivered: false, refused: false, attempts: 1 });
    const flaky = hits.filter((h) => h.path === "/flaky");
    expect(flaky).toHaveLength(3);
    expect(flaky[2]?.body).toMatchObject({ invocationId: "inv-1", destination: "onFailure" });
    expect(flaky[2]?.headers["kumo-invocation-id"]).toBe("inv-1");
  });
});
