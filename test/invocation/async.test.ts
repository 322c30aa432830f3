import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane, waitFor } from "./plane.ts";
import { RAW_IMAGE_FILES } from "./raw-image.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const WORKER = `export async function handler(event) {
  const input = event.body ? JSON.parse(event.body) : {};
  if (process.env.MODE === "fail") throw new Error("failing on purpose (MODE=fail)");
  if (input.sleepMs) await new Promise((r) => setTimeout(r, input.sleepMs));
  console.log("did", input.n);
  return { statusCode: 200, headers: { "content-type": "application/json" }, body: JSON.stringify({ n: input.n ?? null }) };
}
`;

let plane: Plane;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // A short queue wait, so a full pool turns invocations away quickly (the "narrow" test).
  plane = await new Plane({ autoscalerEnv: { KUMO_QUEUE_TIMEOUT: "300ms" } }).start();
  await Promise.all([
    plane.deploy("worker", "node", { "index.mjs": WORKER }, { scaling: { maxInstances: 4 } }),
    plane.deploy(
      "narrow",
      "node",
      { "index.mjs": WORKER },
      { maxRetries: 0, scaling: { concurrency: 1, maxInstances: 1 } },
    ),
    plane.deploy("flaky", "node", { "index.mjs": WORKER }, { env: { MODE: "fail" }, maxRetries: 2 }),
    plane.harness
      .buildImage(RAW_IMAGE_FILES)
      .then((image) => plane.register("raw", "container", image, { maxRetries: 0 })),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await plane?.close();
}, SETUP_TIMEOUT_MS);

async function record(id: string) {
  const res = await plane.gw.call("GET", `/v1/invocations/${id}`, { key: plane.tenant.key });
  return res.status === 200 ? res.json : undefined;
}

describe("invocation plane - async", () => {
  it("async - 202 with an invocation id at once; result, status and logs at /v1/invocations/:id", async () => {
    const res = await plane.invokeAsync("worker", { n: 7 });
    expect(res.status, res.body).toBe(202);
    const id = res.json.invocationId as string;
    expect(res.headers["kumo-invocation-id"]).toBe(id);
    expect((await record(id))?.status).toMatch(/queued|running|succeeded/);
    const done = await waitFor("success", async () => {
      const r = await record(id);
      return r?.status === "succeeded" && r.logs.length > 0 ? r : undefined;
    });
    expect(done).toMatchObject({ trigger: "api", attempts: 1, result: { statusCode: 200, body: '{"n":7}' } });
    expect(done.logs.map((l: { message: string }) => l.message)).toContain("did 7");
  });

  it("async - failures retry with backoff, then go to the dead letters; a redrive runs it again", async () => {
    const res = await plane.invokeAsync("flaky", { n: 1 });
    const id = res.json.invocationId as string;
    const dead = await waitFor("dead letter", async () => {
      const r = await record(id);
      return r?.deadLettered ? r : undefined;
    });
    expect(dead).toMatchObject({ status: "failed", errorCode: "FN_004", attempts: 3 });
    const list = await plane.gw.call("GET", "/v1/functions/flaky/dead-letters", { key: plane.tenant.key });
    expect(list.json.items.map((i: { id: string }) => i.id)).toContain(id);

    // Fix the function (env), then redrive: it succeeds and leaves the dead letters.
    const env = await plane.gw.call("PUT", "/v1/functions/flaky/env/MODE", {
      key: plane.tenant.key,
      body: { value: "ok" },
    });
    expect(env.status, env.body).toBeLessThan(300);
    const redrive = await plane.gw.call("POST", `/v1/functions/flaky/dead-letters/${id}/redrive`, {
      key: plane.tenant.key,
    });
    expect(redrive.status, redrive.body).toBe(202);
    const again = await plane.gw.call("POST", `/v1/functions/flaky/dead-letters/${id}/redrive`, {
      key: plane.tenant.key,
    });
    expect(again.status).toBe(409);
    const ok = await waitFor("redriven success", async () => {
      const r = await record(id);
      return r?.status === "succeeded" ? r : undefined;
    });
    expect(ok).toMatchObject({ attempts: 4, deadLettered: false });
    const after = await plane.gw.call("GET", "/v1/functions/flaky/dead-letters", { key: plane.tenant.key });
    expect(after.json.items.map((i: { id: string }) => i.id)).not.toContain(id);
  });

  it("async - a repeated idempotency key returns the first invocation and runs nothing new", async () => {
    const key = { "kumo-idempotency-key": "order-42" };
    const first = await plane.invokeAsync("worker", { n: 42 }, key);
    const second = await plane.invokeAsync("worker", { n: 43 }, key);
    expect(second.status).toBe(202);
    expect(second.json.invocationId).toBe(first.json.invocationId);
    expect(second.headers["kumo-idempotent-replay"]).toBe("true");
    const done = await waitFor("success", async () => {
      const r = await record(first.json.invocationId);
      return r?.status === "succeeded" ? r : undefined;
    });
    expect(done.result.body).toBe('{"n":42}');
  });

  it("async - kill -9 of an autoscaler mid-burst loses nothing; its restart removes what it left behind", async () => {
    const nodeId = plane.nodeId();
    const startChild = () => {
      const child = spawn(process.execPath, ["--import", "tsx", "services/autoscaler/src/main.ts"], {
        cwd: repoRoot,
        env: { ...process.env, ...plane.autoscalerEnv(nodeId, { KUMO_ASYNC_CONCURRENCY: "64" }) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      return new Promise<ChildProcess>((ready, fail) => {
        child.stdout?.on("data", (d: Buffer) => {
          if (d.toString().includes("ready")) ready(child);
        });
        child.on("exit", (code) => fail(new Error(`autoscaler exited early (${code})`)));
      });
    };
    const child = await startChild();
    const total = 150;
    const ids = await Promise.all(
      Array.from({ length: total }, (_, n) =>
        plane.invokeAsync("worker", { n, sleepMs: 500 }).then((r) => r.json.invocationId as string),
      ),
    );
    expect(new Set(ids).size).toBe(total);
    // Each run takes 0.5 s, so the burst outlasts the child's cold start even on a busy machine and the
    // child still holds unfinished messages when it is killed without warning.
    await waitFor(
      "the child to run containers",
      async () => (await plane.containers({ "dev.kumo.node": nodeId })).length > 0 || undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGKILL");
    const leftover = (await plane.containers({ "dev.kumo.node": nodeId })).map((c) => c.id);
    expect(leftover.length).toBeGreaterThan(0);

    const store = plane.gw.gateway.context.platform.tenant(plane.tenant.id);
    await waitFor(
      "every invocation to succeed",
      async () => {
        const rows = await Promise.all(ids.map((id) => store.invocations.get(id)));
        return rows.every((r) => r?.status === "succeeded") || undefined;
      },
      60_000,
    );
    const rows = await Promise.all(ids.map((id) => store.invocations.get(id)));
    expect(rows.filter((r) => r?.status === "succeeded")).toHaveLength(total);
    // Some were redelivered after the kill: at-least-once execution, one record each.
    expect(rows.some((r) => (r?.attempts ?? 0) > 1)).toBe(true);

    // The node comes back under the same id and removes the containers its previous run left.
    const restarted = await startChild();
    const now = (await plane.containers({ "dev.kumo.node": nodeId })).map((c) => c.id);
    expect(now.filter((id) => leftover.includes(id))).toEqual([]);
    restarted.kill("SIGTERM");
    await new Promise((r) => restarted.once("exit", r));
  }, 120_000);

  it("async - a burst beyond the function's concurrency waits its turn: no retry used, nothing dead-lettered", async () => {
    // One instance running one at a time, 100 ms each, a 300 ms queue wait and no retries: most of
    // these are turned away by the full pool at least once, which must not count as a failed run.
    // The instance is up first, so the pool is full (not still starting) when the burst lands.
    const warm = await plane.invokeAsync("narrow", { n: -1 }, { "kumo-invocation-type": "sync" });
    expect(warm.status, warm.body).toBe(200);
    const queued = await Promise.all(
      Array.from({ length: 15 }, (_, n) => plane.invokeAsync("narrow", { n, sleepMs: 100 })),
    );
    for (const res of queued) expect(res.status, res.body).toBe(202);
    const ids = queued.map((res) => res.json.invocationId as string);
    const records = await waitFor("the burst", async () => {
      const all = await Promise.all(ids.map((id) => record(id)));
      return all.every((r) => r?.status === "succeeded" || r?.status === "failed") ? all : undefined;
    });
    expect(records.map((r) => [r?.status, r?.attempts])).toEqual(ids.map(() => ["succeeded", 1]));
  });

  it("async - edge functions run async too: result and logs recorded, failures retried then dead-lettered", async () => {
    const deployEdge = async (name: string, code: string) => {
      const created = await plane.gw.call("POST", "/v1/functions", {
        key: plane.tenant.key,
        body: { name, runtime: "edge", config: { maxRetries: 1 } },
      });
      expect(created.status, created.body).toBe(201);
      const dep = await plane.gw.call("POST", `/v1/functions/${name}/deployments`, {
        key: plane.tenant.key,
        body: { files: { "index.ts": code } },
      });
      expect(dep.json?.status, dep.body).toBe("succeeded");
    };
    await deployEdge(
      "edge-echo",
      `export default { async fetch(request) { const text = await request.text(); console.log("edge got", text); return new Response("echo:" + text, { headers: { "x-edge": "1" } }); } };`,
    );
    await deployEdge(
      "edge-fail",
      `export default { fetch() { throw new Error("edge failing on purpose"); } };`,
    );
    const ok = await plane.invokeAsync("edge-echo", { n: 3 });
    expect(ok.status, ok.body).toBe(202);
    const done = await waitFor("the edge run", async () => {
      const r = await record(ok.json.invocationId as string);
      return r?.status === "succeeded" && r.logs.length > 0 ? r : undefined;
    });
    expect(done).toMatchObject({ attempts: 1, result: { statusCode: 200, body: 'echo:{"n":3}' } });
    expect(done.logs.map((l: { message: string }) => l.message)).toContain('edge got {"n":3}');

    const bad = await plane.invokeAsync("edge-fail", {});
    const dead = await waitFor("the edge dead letter", async () => {
      const r = await record(bad.json.invocationId as string);
      return r?.deadLettered ? r : undefined;
    });
    expect(dead).toMatchObject({ status: "failed", attempts: 2, errorCode: "FN_004" });
  });

  it("async - a 101 status or 150 headers is recorded as FN_004 / FN_010, never stored as the result", async () => {
    for (const [query, code, statusCode, message] of [
      ["status=101", "FN_004", 500, "status 101;"],
      ["headers=150", "FN_010", 413, "headers; the limit is 100"],
    ] as const) {
      const res = await plane.gw.call("POST", `/v1/functions/raw/invoke?${query}`, {
        key: plane.tenant.key,
        body: {},
        headers: { "kumo-invocation-type": "async" },
      });
      expect(res.status, res.body).toBe(202);
      const dead = await waitFor(`the dead letter of ${query}`, async () => {
        const r = await record(res.json.invocationId as string);
        return r?.deadLettered ? r : undefined;
      });
      expect(dead, query).toMatchObject({ status: "failed", errorCode: code, statusCode });
      expect(dead.errorMessage).toContain(message);
      expect(dead.result?.headers?.["x-0"]).toBeUndefined();
    }
  });

  it("async - the invocation is readable at once from the gateway that queued it, before its record batch is written", async () => {
    // No autoscaler and a record batch that would wait an hour: only the gateway's flush on a miss
    // can make the "queued" record readable.
    const idle = await new Plane({ autoscalers: 0, gatewayEnv: { KUMO_RECORD_FLUSH: "1h" } }).start();
    try {
      await idle.register("later", "node", "kumo/runtime-node:latest");
      const res = await idle.invokeAsync("later", { n: 1 });
      expect(res.status, res.body).toBe(202);
      const id = res.json.invocationId as string;
      const got = await idle.gw.call("GET", `/v1/invocations/${id}`, { key: idle.tenant.key });
      expect(got.status, got.body).toBe(200);
      expect(got.json).toMatchObject({ id, status: "queued", attempts: 0, trigger: "api" });
    } finally {
      await idle.close();
    }
  });

  it("async - nodes export what they settled: outcomes, run time, cold starts and the queue backlog", async () => {
    // Runs after the tests above, which succeeded, retried, dead-lettered and requeued invocations.
    const texts = await Promise.all(
      plane.nodes.map(async (n) => (await fetch(`${n.autoscaler.url}/metrics`)).text()),
    );
    const total = (pattern: RegExp) =>
      texts
        .flatMap((t) => t.split("\n"))
        .filter((line) => pattern.test(line))
        .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
    expect(total(/^kumo_async_invocations_total\{.*outcome="succeeded"/)).toBeGreaterThan(0);
    expect(total(/^kumo_async_invocations_total\{.*outcome="retried".*code="FN_004"/)).toBeGreaterThan(0);
    expect(total(/^kumo_async_invocations_total\{.*outcome="dead_lettered"/)).toBeGreaterThan(0);
    expect(total(/^kumo_async_invocations_total\{.*outcome="requeued".*code="FN_007"/)).toBeGreaterThan(0);
    expect(total(/^kumo_async_invocation_duration_seconds_count/)).toBeGreaterThan(0);
    expect(total(/^kumo_autoscaler_cold_starts_total\{/)).toBeGreaterThan(0);
    expect(texts.some((t) => /^kumo_async_backlog \d+/m.test(t))).toBe(true);
  });
});
