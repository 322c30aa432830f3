/**
 * Triggers, on this machine (loopback only; real PostgreSQL, NATS with JetStream, V8 isolates).
 *
 *   1. Cron fire skew: 1,000 cron triggers firing every second (20 functions × 50 triggers) for
 *      `--seconds`. Two figures per firing: the event's `firedAt − scheduledAt` (when the leader
 *      decided), and when JetStream stored the message − scheduledAt (when the firing was durable,
 *      the one that matters). No autoscaler consumes meanwhile, so the figure is the scheduler's and
 *      not the functions'. Baseline, same run: a bare loop that wakes at each second boundary and
 *      publishes 1,000 equal messages through the same async publisher — the least any scheduler
 *      on this machine could do.
 *   2. Event fan-out: events published through `POST /v1/events` (20 at a time) to a type that
 *      10 event triggers subscribe to (a wildcard among them); deliveries queued in JetStream per
 *      second. Baseline, same run: the same number of async messages published straight from the
 *      gateway process's publisher, 20 at a time (what fan-out costs beyond the publish itself).
 *   3. Database change → function start: `--changes` single-row inserts, one every 50 ms, into a
 *      table a database trigger watches (logical replication, pgoutput). Each row carries the
 *      database clock when it was written (`clock_timestamp()` in ms, a little before COMMIT, so
 *      the figure is if anything high); the function returns `Date.now()` as its first statement.
 *      Baselines, same run, same table and inserts: a bare `pg-logical-replication` consumer of a
 *      slot of its own (the same mechanism without Kumo), and a LISTEN/NOTIFY round trip
 *      (`pg_notify` from a row trigger).
 *   4. Queue drain: `--messages` published to a tenant queue (before the trigger exists), then a
 *      queue trigger with batches of 100 is added, and the time until its consumer has nothing
 *      pending or unacked (lag 0) gives messages/s. Batches of one trigger run one at a time (that
 *      is what ordering and partial failure need), each a full async invocation. Baseline, same
 *      run: a bare JetStream pull consumer fetching and acking the same number of messages, 100
 *      at a time, from a stream of its own.
 *
 * Run: node --import tsx bench/triggers.bench.ts [--seconds 10] [--events 2000] [--changes 200]
 *        [--messages 20000]
 * Prints the figures and writes bench/results/triggers.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  AsyncInvocations,
  connectBus,
  decodeFrame,
  deleteNamespaceStreams,
  type InvokeRequestMeta,
  jetstream,
  jetstreamManager,
  streams,
} from "@kumo/bus";
import { newId } from "@kumo/core";
import { TriggerPlane } from "../test/triggers/trigger-plane.ts";
import { triggerSourceFigures } from "./support/trigger-sources.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    events: { type: "string", default: "2000" },
    changes: { type: "string", default: "200" },
    messages: { type: "string", default: "20000" },
  },
});
const seconds = Number(args.seconds);
const eventCount = Number(args.events);
const FUNCTIONS = 20;
const TRIGGERS_PER_FUNCTION = 50;
const SUBSCRIBERS = 10;
const CONCURRENCY = 20;

const HELLO = `export default { async fetch() { return new Response("ok"); } };`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const summary = (values: number[]) => ({
  n: values.length,
  p50: round(percentile(values, 50)),
  p99: round(percentile(values, 99)),
  max: round(Math.max(...values)),
});

/** Every message in the namespace's invocation stream, read through its durable consumer and acked. */
async function drainStream(
  plane: TriggerPlane,
): Promise<{ meta: InvokeRequestMeta; body: string; storedMs: number }[]> {
  const nc = await connectBus({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "bench-drain" });
  try {
    const consumer = await jetstream(nc).consumers.get(
      streams.invocations(plane.namespace),
      streams.invocationConsumer,
    );
    const out: { meta: InvokeRequestMeta; body: string; storedMs: number }[] = [];
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
      let got = 0;
      for await (const msg of batch) {
        got++;
        const { meta, payload } = decodeFrame<InvokeRequestMeta>(msg.data);
        out.push({
          meta,
          body: Buffer.from(payload).toString("utf8"),
          storedMs: msg.info.timestampNanos / 1e6,
        });
        msg.ack();
      }
      if (got === 0) return out;
    }
  } finally {
    await nc.close();
  }
}

async function cronSkew(plane: TriggerPlane) {
  for (let f = 0; f < FUNCTIONS; f++) await plane.deployEdge(`cron-${f}`, HELLO);
  for (let f = 0; f < FUNCTIONS; f++) {
    await Promise.all(
      Array.from({ length: TRIGGERS_PER_FUNCTION }, async () => {
        const res = await plane.gw.call("POST", `/v1/functions/cron-${f}/triggers`, {
          key: plane.tenant.key,
          body: { schedule: "* * * * * *", overlap: "allow" },
        });
        if (res.status !== 201) throw new Error(`trigger: ${res.status} ${res.body}`);
      }),
    );
  }
  // The autoscaler would run the firings on this machine's two cores: what is measured here is
  // the scheduler, so the messages wait in the stream and are read back afterwards.
  await plane.autoscaler.stop();
  const scheduler = await plane.startScheduler({ KUMO_SCHEDULER_TICK: "20ms" });
  const startedAt = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000 + 500));
  await scheduler.stop();
  const messages = await drainStream(plane);
  const decided: number[] = [];
  const stored: number[] = [];
  for (const m of messages) {
    const event = JSON.parse(m.body) as { type?: string; scheduledAt?: string; firedAt?: string };
    if (event.type !== "cron" || !event.scheduledAt || !event.firedAt) continue;
    const slot = Date.parse(event.scheduledAt);
    // The first second warms up (the leader lease is taken, caches fill): measure the steady state.
    if (slot < startedAt + 1500) continue;
    decided.push(Date.parse(event.firedAt) - slot);
    stored.push(m.storedMs - slot);
  }
  return { firings: messages.length, decidedMs: summary(decided), storedMs: summary(stored) };
}

/** The baseline: a timer at each second boundary, then 1,000 publishes through the same publisher. */
async function bareTimerSkew(plane: TriggerPlane) {
  const nc = await connectBus({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "bench-bare" });
  const namespace = `${plane.namespace}b`;
  const sender = new AsyncInvocations({ nc, namespace });
  await sender.start();
  const stored: number[] = [];
  const target = { tenantId: "ten_bench", functionId: "fn_bench", versionId: "ver_bench", version: 1 };
  const body = Buffer.from(
    JSON.stringify({ type: "cron", triggerId: "trg_x", scheduledAt: new Date().toISOString() }),
  );
  try {
    for (let s = 0; s < seconds; s++) {
      const slot = Math.ceil(Date.now() / 1000) * 1000;
      await new Promise((r) => setTimeout(r, slot - Date.now()));
      await Promise.all(
        Array.from({ length: FUNCTIONS * TRIGGERS_PER_FUNCTION }, async (_, i) => {
          const invocationId = newId("inv");
          const ack = await sender.publish(
            target,
            {
              invocationId,
              trigger: "cron",
              method: "POST",
              url: "/",
              headers: { "content-type": "application/json" },
              body,
              deadline: slot + 10_000,
            },
            { msgId: `trg_${i}:${slot}`, queuedAt: Date.now() },
          );
          void ack;
          stored.push(Date.now() - slot);
        }),
      );
    }
  } finally {
    sender.stop();
    await deleteNamespaceStreams(await jetstreamManager(nc), namespace).catch(() => {});
    await nc.close();
  }
  return { storedMs: summary(stored) };
}

async function fanOut(plane: TriggerPlane) {
  for (let i = 0; i < SUBSCRIBERS; i++) {
    await plane.deployEdge(`sub-${i}`, HELLO);
    const res = await plane.gw.call("POST", `/v1/functions/sub-${i}/triggers`, {
      key: plane.tenant.key,
      body: { type: "event", eventType: i === 0 ? "order.*" : "order.paid" },
    });
    if (res.status !== 201) throw new Error(`event trigger: ${res.status} ${res.body}`);
  }
  const publish = async (n: number) => {
    const res = await plane.gw.call("POST", "/v1/events", {
      key: plane.tenant.key,
      body: { type: "order.paid", data: { order: n, amount: 42 } },
    });
    if (res.status !== 202 && res.status !== 201) throw new Error(`publish: ${res.status} ${res.body}`);
  };
  for (let i = 0; i < 50; i++) await publish(-i); // warm-up
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < eventCount) await publish(next++);
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  const deliveries = eventCount * SUBSCRIBERS;

  // Baseline: the same number of async messages straight through a publisher, 20 at a time.
  const nc = await connectBus({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "bench-raw" });
  const sender = new AsyncInvocations({ nc, namespace: plane.namespace });
  await sender.start();
  const body = Buffer.from(JSON.stringify({ type: "event", data: { order: 1, amount: 42 } }));
  let sent = 0;
  const t1 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent < deliveries) {
        sent++;
        const invocationId = newId("inv");
        await sender.publish(
          { tenantId: plane.tenant.id, functionId: "fn_raw", versionId: "ver_raw", version: 1 },
          {
            invocationId,
            trigger: "event",
            method: "POST",
            url: "/",
            headers: {},
            body,
            deadline: Date.now() + 10_000,
          },
          { msgId: invocationId, queuedAt: Date.now() },
        );
      }
    }),
  );
  const rawS = (performance.now() - t1) / 1000;
  sender.stop();
  await nc.close();
  return {
    events: eventCount,
    subscribers: SUBSCRIBERS,
    eventsPerS: Math.round(eventCount / elapsedS),
    deliveriesPerS: Math.round(deliveries / elapsedS),
    baselineMessagesPerS: Math.round(deliveries / rawS),
  };
}

async function main(): Promise<void> {
  const plane = await new TriggerPlane().start();
  try {
    // These two need the autoscaler, which the cron figure stops: they run first, with a
    // scheduler of their own that is gone before the cron figure starts its own.
    const { database, queue } = await triggerSourceFigures(plane, {
      changes: Number(args.changes),
      messages: Number(args.messages),
    });
    const bare = await bareTimerSkew(plane);
    const cron = await cronSkew(plane);
    // Fan-out on a plane of its own: the cron figure leaves a thousand triggers, twenty functions
    // and eleven thousand records behind, which is not what an event publisher's tenant looks like.
    // As in the cron figure, what is measured is the publishing side: no autoscaler runs the deliveries.
    const eventsPlane = await new TriggerPlane().start();
    await eventsPlane.autoscaler.stop();
    const events = await fanOut(eventsPlane).finally(() => eventsPlane.close());
    const result = {
      benchmark: "triggers",
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "", node: process.version },
      cron: { schedules: FUNCTIONS * TRIGGERS_PER_FUNCTION, seconds, ...cron, baseline: bare },
      events,
      database,
      queue,
      load: loadavg().map((l) => round(l, 2)),
    };
    console.log(
      `\ncron: ${result.cron.schedules} schedules every second for ${seconds} s (${cron.firings} firings)`,
    );
    console.log(
      `  decided  (firedAt - scheduledAt) p50 ${cron.decidedMs.p50} ms  p99 ${cron.decidedMs.p99} ms`,
    );
    console.log(
      `  stored   (in JetStream - slot)   p50 ${cron.storedMs.p50} ms  p99 ${cron.storedMs.p99} ms`,
    );
    console.log(
      `  baseline (bare timer + publish)  p50 ${bare.storedMs.p50} ms  p99 ${bare.storedMs.p99} ms`,
    );
    console.log(
      `  ratio p99 stored / baseline: ${round(cron.storedMs.p99 / Math.max(bare.storedMs.p99, 0.1), 2)}`,
    );
    console.log(`events: ${events.events} events x ${events.subscribers} subscribers`);
    console.log(`  fan-out ${events.deliveriesPerS} deliveries/s (${events.eventsPerS} events/s)`);
    console.log(`  baseline raw async publish ${events.baselineMessagesPerS} messages/s`);
    console.log(`  ratio: ${round(events.deliveriesPerS / events.baselineMessagesPerS, 2)}`);
    if ("skipped" in database) console.log(`database: skipped (${database.skipped})`);
    else {
      console.log(`database: ${database.changes} inserts, commit → receive/start`);
      console.log(
        `  Kumo function start  p50 ${database.kumoMs.p50} ms  p99 ${database.kumoMs.p99} ms  (n ${database.kumoMs.n})`,
      );
      console.log(
        `  baseline logical     p50 ${database.logicalMs.p50} ms  p99 ${database.logicalMs.p99} ms  (bare pg-logical-replication)`,
      );
      console.log(
        `  baseline NOTIFY      p50 ${database.notifyMs.p50} ms  p99 ${database.notifyMs.p99} ms  (LISTEN/NOTIFY)`,
      );
    }
    console.log(`queue: ${queue.messages} messages, batches of ${queue.batchSize}`);
    console.log(
      `  Kumo trigger drain   ${queue.drainPerS} messages/s (${queue.batches} batches, ${queue.drainS} s)`,
    );
    console.log(`  baseline JetStream   ${queue.baselinePerS} messages/s (bare pull consumer)`);
    console.log(`load average (1, 5, 15 min) at the end: ${result.load.join(", ")}`);
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "triggers.json"), `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await plane.close();
  }
}

await main();
process.exit(0);
