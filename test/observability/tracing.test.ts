import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ImageBuildClient } from "@kumo/gateway";
import { startTelemetry, type Telemetry } from "@kumo/telemetry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Plane, waitFor } from "../invocation/plane.ts";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { startTestGateway } from "../support/test-gateway.ts";

/** One exported span, decoded from OTLP/HTTP JSON. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
  error: boolean;
}

/**
 * An OTLP/HTTP trace receiver on loopback: what the services export (JSON encoding), kept in
 * memory. Ids arrive as hex in the JSON encoding; base64 is accepted too, as the spec allows.
 */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") this.#take(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1/traces`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  inTrace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  // biome-ignore lint/suspicious/noExplicitAny: the OTLP JSON document is walked as it comes
  #take(doc: any): void {
    for (const rs of doc.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          const attributes: ReceivedSpan["attributes"] = {};
          for (const a of s.attributes ?? []) {
            const v = a.value ?? {};
            attributes[a.key] =
              v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue);
          }
          this.spans.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: s.parentSpanId ? hex(s.parentSpanId) : "",
            name: s.name,
            kind: s.kind,
            attributes,
            links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({
              traceId: hex(l.traceId),
              spanId: hex(l.spanId),
            })),
            error: s.status?.code === 2,
          });
        }
  }
}

const hex = (id: string) => (/^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, "base64").toString("hex"));

const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

/** Answers with the trace context it was given (header and Lambda context). */
const NODE_FN = `export async function handler(event, context) {
  return { statusCode: 200, body: JSON.stringify({ header: event.headers?.traceparent ?? null, context: context.traceparent ?? null }) };
}
`;

/** Fails the first attempt of each invocation (by id), succeeds on the retry. */
const FLAKY_FN = `const seen = new Set();
export async function handler(event, context) {
  if (!seen.has(context.invocationId)) { seen.add(context.invocationId); throw new Error("first attempt fails"); }
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ context: context.traceparent ?? null }) };
}
`;

const EDGE_FN = `export default { fetch(req) { return Response.json({ header: req.headers.get("traceparent") }) } }`;

const receiver = new OtlpReceiver();
const saved: Record<string, string | undefined> = {};
let telemetry: Telemetry;
let plane: Plane;

function caller(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** The spans of a trace once `names` have all arrived (export is batched). */
async function spansOf(traceId: string, names: (string | RegExp)[]): Promise<ReceivedSpan[]> {
  return waitFor(`spans ${names.join(", ")} of trace ${traceId}`, async () => {
    await telemetry.flush();
    const spans = receiver.inTrace(traceId);
    return names.every((n) => spans.some((s) => (typeof n === "string" ? s.name === n : n.test(s.name))))
      ? spans
      : undefined;
  });
}

function one(spans: ReceivedSpan[], name: string | RegExp): ReceivedSpan {
  const found = spans.filter((s) => (typeof name === "string" ? s.name === name : name.test(s.name)));
  expect(found, `spans named ${name}: ${spans.map((s) => s.name).join(", ")}`).toHaveLength(1);
  return found[0] as ReceivedSpan;
}

async function record(id: string) {
  await plane.gw.gateway.flushRecords();
  const res = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
  return res.status === 200 ? res.json : undefined;
}

beforeAll(async () => {
  const endpoint = await receiver.start();
  const env = {
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "50",
    OTEL_NODE_RESOURCE_DETECTORS: "none",
  };
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  telemetry = await startTelemetry("kumo-test");
  plane = await new Plane({ edge: true }).start();
  await Promise.all([
    plane.deploy("traced", "node", { "index.mjs": NODE_FN }),
    plane.deploy("flaky", "node", { "index.mjs": FLAKY_FN }, { maxRetries: 2 }),
    (async () => {
      const key = plane.tenant.key;
      const created = await plane.gw.call("POST", "/v1/functions", {
        key,
        body: { name: "edgy", runtime: "edge" },
      });
      expect(created.status, created.body).toBe(201);
      const dep = await plane.gw.call("POST", "/v1/functions/edgy/deployments", {
        key,
        body: { files: { "index.ts": EDGE_FN } },
      });
      expect(dep.status, dep.body).toBe(202);
    })(),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
  await telemetry?.stop();
  await receiver.close();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}, SETUP_TIMEOUT_MS);

describe("tracing - OpenTelemetry spans through every hop", () => {
  it("tracing - a container invocation continues the caller's trace: gateway → NATS → autoscaler → shim → function", async () => {
    const c = caller();
    const autoscaler = plane.nodes[0]?.autoscaler;
    if (!autoscaler) throw new Error("no node");
    const linked = autoscaler.status().syncOverLink;
    const res = await plane.invoke("traced", { headers: { traceparent: c.traceparent } });
    expect(res.status, res.body).toBe(200);
    expect(res.headers["kumo-trace-id"]).toBe(c.traceId);
    const invocationId = res.headers["kumo-invocation-id"] as string;

    const spans = await spansOf(c.traceId, [
      /^POST \/fn\//,
      "publish kumo.invoke",
      "invoke traced",
      "shim call",
    ]);
    const server = one(spans, /^POST \/fn\//);
    expect(server.parentSpanId).toBe(c.spanId);
    expect(server.kind).toBe(SPAN_KIND.SERVER);
    expect(server.attributes).toMatchObject({
      "http.route": "/fn/:tenant/:fn/*",
      "http.response.status_code": 200,
      "faas.invocation_id": invocationId,
    });
    expect(one(spans, "resolve").parentSpanId).toBe(server.spanId);
    const publish = one(spans, "publish kumo.invoke");
    expect(publish.parentSpanId).toBe(server.spanId);
    expect(publish.attributes).toMatchObject({
      "messaging.system": "nats",
      "faas.invocation_id": invocationId,
      // Whether the node's direct link was up yet (the gateway links once it hears a heartbeat).
      "kumo.transport": autoscaler.status().syncOverLink > linked ? "link" : "nats",
    });
    const node = one(spans, "invoke traced");
    expect(node.parentSpanId).toBe(publish.spanId);
    expect(node.kind).toBe(SPAN_KIND.SERVER);
    expect(node.attributes).toMatchObject({
      "faas.name": "traced",
      "faas.trigger": "http",
      "faas.coldstart": true,
    });
    const acquire = one(spans, "pool acquire");
    expect(acquire.parentSpanId).toBe(node.spanId);
    expect(acquire.attributes["kumo.cold_start.kind"]).toMatch(/cold|stem-cell/);
    expect(one(spans, /^cold start /).parentSpanId).toBe(acquire.spanId);
    const shim = one(spans, "shim call");
    expect(shim.parentSpanId).toBe(node.spanId);

    // The function got the shim call's context: its own spans would join as children of it.
    const got = JSON.parse(res.body);
    expect(got.header).toBe(`00-${c.traceId}-${shim.spanId}-01`);
    expect(got.context).toBe(got.header);
    const recorded = await record(invocationId);
    expect(recorded?.traceId).toBe(c.traceId);
    // The shim's usage header is read and stripped by the autoscaler: it reaches the record, not the caller.
    expect(res.headers["kumo-usage"]).toBeUndefined();
    expect(recorded?.cpuMs).toBeGreaterThanOrEqual(0);
    expect(recorded?.cpuMs).toBeLessThan(10_000);
    expect(recorded?.memoryBytes).toBeGreaterThan(1_000_000);
  });

  it("tracing - an edge invocation continues the caller's trace: gateway → isolate → function", async () => {
    const c = caller();
    const res = await plane.invoke("edgy", { method: "GET", headers: { traceparent: c.traceparent } });
    expect(res.status, res.body).toBe(200);
    const invocationId = res.headers["kumo-invocation-id"] as string;
    const spans = await spansOf(c.traceId, [/^GET \/fn\//, "isolate invoke edgy"]);
    const server = one(spans, /^GET \/fn\//);
    expect(server.parentSpanId).toBe(c.spanId);
    const isolate = one(spans, "isolate invoke edgy");
    expect(isolate.parentSpanId).toBe(server.spanId);
    expect(isolate.attributes).toMatchObject({
      "faas.invocation_id": invocationId,
      "faas.name": "edgy",
      "faas.trigger": "http",
    });
    expect(typeof isolate.attributes["faas.coldstart"]).toBe("boolean");
    expect(JSON.parse(res.body).header).toBe(`00-${c.traceId}-${isolate.spanId}-01`);
    expect((await record(invocationId))?.traceId).toBe(c.traceId);
  });

  it("tracing - the invocation duration histogram carries the trace id as an exemplar, in OpenMetrics only", async () => {
    const c = caller();
    const res = await plane.invoke("edgy", { method: "GET", headers: { traceparent: c.traceparent } });
    expect(res.status, res.body).toBe(200);
    const scrape = (accept?: string) =>
      plane.gw.call("GET", "/metrics", accept ? { headers: { accept } } : {});
    // What Prometheus sends by default: OpenMetrics preferred.
    const open = await scrape(
      "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    );
    expect(open.status).toBe(200);
    expect(open.headers["content-type"]).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    const exemplar = open.body
      .split("\n")
      .find((l) => l.startsWith("kumo_invocation_duration_seconds_bucket") && l.includes(c.traceId));
    expect(exemplar, "a bucket line with the invocation's trace id").toMatch(
      new RegExp(`# \\{trace_id="${c.traceId}"\\} [0-9.e-]+ [0-9.]+$`),
    );
    expect(open.body.trimEnd().endsWith("# EOF")).toBe(true);
    // Counters keep their _total samples in both formats, whichever was rendered before.
    expect(open.body).toMatch(/^kumo_invocations_total\{/m);
    const plain = await scrape();
    expect(plain.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(plain.body).not.toContain("# {trace_id=");
    expect(plain.body).toMatch(/^# TYPE kumo_invocations_total counter$/m);
    expect(plain.body).toMatch(/^kumo_invocation_duration_seconds_bucket\{.*\} \d+$/m);
  });

  it("tracing - without a caller traceparent the gateway starts the trace, and the record and response name it", async () => {
    const res = await plane.invoke("edgy", { method: "GET" });
    expect(res.status, res.body).toBe(200);
    const traceId = res.headers["kumo-trace-id"] as string;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await spansOf(traceId, [/^GET \/fn\//, "isolate invoke edgy"]);
    expect(one(spans, /^GET \/fn\//).parentSpanId).toBe("");
    expect(JSON.parse(res.body).header).toContain(traceId);
    expect((await record(res.headers["kumo-invocation-id"] as string))?.traceId).toBe(traceId);
  });

  it("tracing - an unsampled caller trace is carried on (response, function, record) and nothing is exported", async () => {
    const c = caller();
    const unsampled = `00-${c.traceId}-${c.spanId}-00`;
    const res = await plane.invoke("traced", { headers: { traceparent: unsampled } });
    expect(res.status, res.body).toBe(200);
    expect(res.headers["kumo-trace-id"]).toBe(c.traceId);
    const got = JSON.parse(res.body);
    expect(got.header).toMatch(new RegExp(`^00-${c.traceId}-[0-9a-f]{16}-00$`));
    expect((await record(res.headers["kumo-invocation-id"] as string))?.traceId).toBe(c.traceId);
    await telemetry.flush();
    expect(receiver.inTrace(c.traceId)).toEqual([]);
  });

  it("tracing - async: the message carries the context; each attempt, the retry included, is a child of the publish and linked to it", async () => {
    const c = caller();
    const res = await plane.invokeAsync("flaky", { n: 1 }, { traceparent: c.traceparent });
    expect(res.status, res.body).toBe(202);
    expect(res.headers["kumo-trace-id"]).toBe(c.traceId);
    const id = res.json.invocationId as string;
    const done = await waitFor("the retry to succeed", async () => {
      const r = await record(id);
      return r?.status === "succeeded" ? r : undefined;
    });
    expect(done).toMatchObject({ attempts: 2, traceId: c.traceId });
    expect(done.cpuMs).toBeGreaterThanOrEqual(0);
    expect(done.memoryBytes).toBeGreaterThan(1_000_000);

    const spans = await spansOf(c.traceId, ["publish kumo.async", "invoke attempt 1", "invoke attempt 2"]);
    const server = one(spans, /^POST \/v1\/functions\/:name\/invoke$/);
    expect(server.parentSpanId).toBe(c.spanId);
    expect(one(spans, "auth").parentSpanId).toBe(server.spanId);
    const publish = one(spans, "publish kumo.async");
    expect(publish.parentSpanId).toBe(server.spanId);
    expect(publish.kind).toBe(SPAN_KIND.PRODUCER);
    const first = one(spans, "invoke attempt 1");
    const retry = one(spans, "invoke attempt 2");
    for (const attempt of [first, retry]) {
      expect(attempt.kind).toBe(SPAN_KIND.CONSUMER);
      expect(attempt.parentSpanId).toBe(publish.spanId);
      expect(attempt.links).toEqual([{ traceId: c.traceId, spanId: publish.spanId }]);
      expect(attempt.attributes["faas.invocation_id"]).toBe(id);
    }
    expect(first.error).toBe(true);
    expect(first.attributes).toMatchObject({
      "kumo.attempt": 1,
      "error.type": "FN_004",
      "kumo.retried": true,
    });
    expect(retry.error).toBe(false);
    expect(retry.attributes["kumo.attempt"]).toBe(2);
    expect(one(spans, "queue wait").parentSpanId).toBe(first.spanId);

    // Each attempt's shim call is under its attempt, and the function saw the last one's context.
    const shims = spans.filter((s) => s.name === "shim call");
    expect(shims.map((s) => s.parentSpanId).sort()).toEqual([first.spanId, retry.spanId].sort());
    const retryShim = shims.find((s) => s.parentSpanId === retry.spanId);
    const result = JSON.parse(done.result.body);
    expect(result.context).toBe(`00-${c.traceId}-${retryShim?.spanId}-01`);
  });

  it("tracing - an event's fan-out: a span for the event, one per delivery (its child, linked to it), each delivery's invocation under it", async () => {
    const key = plane.tenant.key;
    for (const fn of ["traced", "flaky"]) {
      const res = await plane.gw.call("POST", `/v1/functions/${fn}/triggers`, {
        key,
        body: { type: "event", eventType: "span.*" },
      });
      expect(res.status, res.body).toBe(201);
    }
    const published = await plane.gw.call("POST", "/v1/events", {
      key,
      body: { type: "span.test", data: {} },
    });
    expect(published.status, published.body).toBe(202);
    const eventId = published.json.eventId as string;
    expect(published.json.deliveries).toHaveLength(2);

    const event = await waitFor("the event's span", async () => {
      await telemetry.flush();
      return receiver.spans.find(
        (s) => s.name === "publish event span.test" && s.attributes["kumo.event.id"] === eventId,
      );
    });
    expect(event.kind).toBe(SPAN_KIND.PRODUCER);
    expect(event.attributes).toMatchObject({ "kumo.event.type": "span.test", "kumo.event.deliveries": 2 });
    const spans = await waitFor("both deliveries' first attempts", async () => {
      await telemetry.flush();
      const all = receiver.inTrace(event.traceId);
      return all.filter((s) => s.name === "invoke attempt 1").length === 2 ? all : undefined;
    });
    const deliveries = spans.filter((s) => s.name === "deliver event span.test");
    expect(deliveries).toHaveLength(2);
    for (const delivery of deliveries) {
      expect(delivery.parentSpanId).toBe(event.spanId);
      expect(delivery.links).toEqual([{ traceId: event.traceId, spanId: event.spanId }]);
      expect(delivery.attributes["kumo.event.id"]).toBe(eventId);
      const publish = spans.filter(
        (s) => s.name === "publish kumo.async" && s.parentSpanId === delivery.spanId,
      );
      expect(publish, "the delivery's publish to the stream").toHaveLength(1);
      const attempt = one(
        spans.filter((s) => s.parentSpanId === publish[0]?.spanId),
        "invoke attempt 1",
      );
      expect(attempt.attributes["faas.invocation_id"]).toBe(delivery.attributes["faas.invocation_id"]);
    }
    expect(deliveries.map((d) => d.attributes["faas.invoked_name"]).sort()).toEqual(["flaky", "traced"]);
  });

  it("tracing - a container deploy is one span, and the builder call carries its context (the build span is its child)", async () => {
    const sent: (string | undefined)[] = [];
    const builder: ImageBuildClient = {
      async build(_request, options) {
        sent.push(options.traceparent);
        return { result: { image: "kumo/traced-fake:1", codeDigest: "", cached: true }, codeTar: undefined };
      },
      async fetchGit() {
        throw new Error("not used");
      },
    };
    const gw = await startTestGateway({ builder });
    try {
      const tenant = await gw.tenant();
      const created = await gw.call("POST", "/v1/functions", {
        key: tenant.key,
        body: { name: "built", runtime: "node" },
      });
      expect(created.status, created.body).toBe(201);
      const dep = await gw.call("POST", "/v1/functions/built/deployments", {
        key: tenant.key,
        body: { files: { "index.mjs": NODE_FN } },
      });
      expect(dep.status, dep.body).toBe(202);
      const deploymentId = dep.json.id as string;
      const span = await waitFor("the deploy span", async () => {
        await telemetry.flush();
        return receiver.spans.find(
          (s) => s.name === "deploy built" && s.attributes["kumo.deployment.id"] === deploymentId,
        );
      });
      expect(span.kind).toBe(SPAN_KIND.CLIENT);
      expect(span.error).toBe(false);
      expect(span.attributes).toMatchObject({
        "faas.name": "built",
        "faas.version": "1",
        "kumo.runtime": "node",
      });
      expect(sent).toEqual([`00-${span.traceId}-${span.spanId}-01`]);
    } finally {
      await gw.close();
    }
  });
});
