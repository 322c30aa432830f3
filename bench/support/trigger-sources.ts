/**
 * The database-trigger and queue-trigger figures of bench/triggers.bench.ts, each beside its
 * baseline measured in the same run (see that file's header for what each figure means).
 */
import {
  AckPolicy,
  connectBus,
  jetstream,
  jetstreamManager,
  type NatsConnection,
  StorageType,
  streams,
} from "@kumo/bus";
import pg from "pg";
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication";
import { TEST_DATABASE_URL, TEST_NATS_URL } from "../../test/support/test-gateway.ts";
import type { RunningScheduler, TriggerPlane } from "../../test/triggers/trigger-plane.ts";

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

const DB_START = `export default { async fetch(request) {
  const startedAt = Date.now();
  const event = await request.json();
  return Response.json({ startedAt, atMs: Number(event.new && event.new.at_ms) });
} };`;
const DRAIN = `export default { async fetch(request) {
  const event = await request.json();
  return Response.json({ n: event.messages.length });
} };`;

/** Changes discarded at the start of each series (an isolate's first run, a slot's first read). */
const WARM_UP = 10;
const CHANGE_EVERY_MS = 50;
const QUEUE_BATCH = 100;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function summary(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const r = (n: number) => Math.round(n * 10) / 10;
  return { n: sorted.length, p50: r(at(50)), p99: r(at(99)), max: r(sorted[sorted.length - 1] ?? 0) };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function api(plane: TriggerPlane, method: string, path: string, body?: unknown) {
  const res = await plane.gw.call(method, path, { key: plane.tenant.key, ...(body ? { body } : {}) });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
  return res.json;
}

/** Inserts `count` rows one at a time, `CHANGE_EVERY_MS` apart, ids from `firstId`. */
async function insertRows(client: pg.Client, table: string, firstId: number, count: number) {
  for (let i = 0; i < count; i++) {
    const next = Date.now() + CHANGE_EVERY_MS;
    await client.query(`insert into ${table} (id) values ($1)`, [firstId + i]);
    await sleep(Math.max(0, next - Date.now()));
  }
}

export interface DatabaseFigures {
  changes: number;
  kumoMs: Summary;
  logicalMs: Summary;
  notifyMs: Summary;
}

/** Commit → function start through a database trigger, and the two bare baselines. */
async function databaseChangeLatency(
  plane: TriggerPlane,
  changes: number,
): Promise<DatabaseFigures | { skipped: string }> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  const schema = `kbench_${plane.namespace}`;
  const table = `${schema}.changes`;
  const slot = `${schema}_base`;
  try {
    const level = await client.query<{ wal_level: string }>("show wal_level");
    if (level.rows[0]?.wal_level !== "logical")
      return { skipped: "PostgreSQL runs without wal_level=logical" };
    await client.query(`create schema ${schema}`);
    // The database's clock when the row is written, in ms (a bigint: exact in every consumer).
    await client.query(`create table ${table} (id int primary key,
      at_ms bigint not null default (extract(epoch from clock_timestamp()) * 1000)::bigint)`);
    await client.query(`create function ${schema}.notify() returns trigger language plpgsql as $$
      begin perform pg_notify('${schema}', new.id || ' ' || new.at_ms); return new; end $$`);
    await client.query(
      `create trigger notify after insert on ${table} for each row execute function ${schema}.notify()`,
    );

    // Baselines: a bare logical replication consumer and LISTEN/NOTIFY, on the same inserts.
    await client.query(`create publication ${slot} for table ${table}`);
    await client.query("select pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    const logical: [number, number][] = [];
    const service = new LogicalReplicationService(
      { connectionString: TEST_DATABASE_URL },
      { acknowledge: { auto: true, timeoutSeconds: 1 } },
    );
    service.on("data", (_lsn: string, message: Pgoutput.Message) => {
      if (message.tag === "insert")
        logical.push([Number(message.new.id), Date.now() - Number(message.new.at_ms)]);
    });
    const started = new Promise<void>((resolve) => service.once("start", () => resolve()));
    const streaming = service
      .subscribe(new PgoutputPlugin({ protoVersion: 1, publicationNames: [slot] }), slot)
      .catch(() => undefined);
    await started;
    const listener = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await listener.connect();
    const notified: [number, number][] = [];
    listener.on("notification", (n) => {
      const [id, atMs] = (n.payload ?? "").split(" ").map(Number);
      notified.push([id ?? 0, Date.now() - (atMs ?? 0)]);
    });
    await listener.query(`listen ${schema}`);
    await insertRows(client, table, 1, changes + WARM_UP);
    await until(
      "the baselines to receive every change",
      async () => logical.length >= changes + WARM_UP && notified.length >= changes + WARM_UP,
    );
    await service.stop();
    await streaming;
    await listener.end();
    await client.query(`drop trigger notify on ${table}`);
    await client.query("select pg_drop_replication_slot($1)", [slot]);
    await client.query(`drop publication ${slot}`);

    // Kumo: a database trigger on the same table, through the async path to an edge function.
    await api(plane, "PUT", "/v1/secrets/BENCH_DB", { value: TEST_DATABASE_URL });
    await plane.deployEdge("db-start", DB_START);
    const trigger = await api(plane, "POST", "/v1/functions/db-start/triggers", {
      type: "database",
      connectionSecret: "BENCH_DB",
      tables: [table],
      events: ["insert"],
    });
    await until("the database trigger to stream", async () => {
      const t = await api(plane, "GET", `/v1/functions/db-start/triggers/${trigger.id}`);
      return t.state.source?.streaming === true;
    });
    const firstId = 100_000;
    await insertRows(client, table, firstId, changes + WARM_UP);
    const db = plane.gw.gateway.database.db;
    const rows = await until("every change's run", async () => {
      const r = await db
        .selectFrom("invocations")
        .select(["result"])
        .where("tenant_id", "=", plane.tenant.id)
        .where("trigger_id", "=", trigger.id)
        .where("status", "=", "succeeded")
        .execute();
      return r.length >= changes + WARM_UP ? r : undefined;
    });
    const kumo = rows
      .map(
        (r) =>
          JSON.parse(Buffer.from(r.result ?? new Uint8Array()).toString("utf8")) as {
            startedAt: number;
            atMs: number;
          },
      )
      .sort((a, b) => a.atMs - b.atMs)
      .slice(WARM_UP)
      .map((r) => r.startedAt - r.atMs);
    // Deleting the trigger drops its slot and publication (the scheduler does it).
    await api(plane, "DELETE", `/v1/functions/db-start/triggers/${trigger.id}`);
    const bySeries = (series: [number, number][]) =>
      series
        .sort((a, b) => a[0] - b[0])
        .slice(WARM_UP)
        .map(([, ms]) => ms);
    return {
      changes,
      kumoMs: summary(kumo),
      logicalMs: summary(bySeries(logical)),
      notifyMs: summary(bySeries(notified)),
    };
  } finally {
    await client.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await client
      .query("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1", [
        slot,
      ])
      .catch(() => undefined);
    await client.query(`drop publication if exists ${slot}`).catch(() => undefined);
    await client.end();
  }
}

export interface QueueFigures {
  messages: number;
  batchSize: number;
  batches: number;
  drainS: number;
  drainPerS: number;
  baselinePerS: number;
}

/** Messages pending or unacked for a durable consumer (null: it does not exist yet). */
async function pendingOf(nc: NatsConnection, stream: string, consumer: string): Promise<number | null> {
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.consumers.info(stream, consumer);
    return info.num_pending + info.num_ack_pending;
  } catch {
    return null;
  }
}

/** A queue trigger with batches of 100 draining a backlog, and a bare JetStream pull consumer. */
async function queueDrain(plane: TriggerPlane, messages: number): Promise<QueueFigures> {
  const nc = await connectBus({ url: TEST_NATS_URL, name: "bench-queue" });
  try {
    await plane.deployEdge("drain", DRAIN);
    const chunks = Array.from({ length: Math.ceil(messages / 1000) }, (_, c) =>
      Array.from({ length: Math.min(1000, messages - c * 1000) }, (_, i) => ({
        data: { order: c * 1000 + i, amount: 42, note: "bench" },
      })),
    );
    for (let c = 0; c < chunks.length; c += 4) {
      await Promise.all(
        chunks
          .slice(c, c + 4)
          .map((batch) => api(plane, "POST", "/v1/queues/drain/messages", { messages: batch })),
      );
    }
    const t0 = performance.now();
    const trigger = await api(plane, "POST", "/v1/functions/drain/triggers", {
      type: "queue",
      queue: "drain",
      batchSize: QUEUE_BATCH,
    });
    const stream = streams.queues(plane.namespace);
    const consumer = streams.queueConsumer(trigger.id);
    await until(
      "the queue trigger to drain",
      async () => (await pendingOf(nc, stream, consumer)) === 0,
      10 * 60_000,
    );
    const drainS = (performance.now() - t0) / 1000;
    const batches = await plane.gw.gateway.database.db
      .selectFrom("invocations")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("tenant_id", "=", plane.tenant.id)
      .where("trigger_id", "=", trigger.id)
      .executeTakeFirst();
    await api(plane, "DELETE", `/v1/functions/drain/triggers/${trigger.id}`);

    // Baseline: the same number of messages of the same size, a bare pull consumer, 100 per fetch.
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const name = `BENCH_DRAIN_${plane.namespace}`;
    const subject = `bench.${plane.namespace}.drain`;
    await jsm.streams.add({ name, subjects: [subject], storage: StorageType.File });
    try {
      const body = new TextEncoder().encode(
        JSON.stringify({
          id: "msg_0000000000000000",
          key: null,
          data: { order: 0, amount: 42, note: "bench" },
        }),
      );
      for (let at = 0; at < messages; at += 500) {
        await Promise.all(
          Array.from({ length: Math.min(500, messages - at) }, () => js.publish(subject, body)),
        );
      }
      await jsm.consumers.add(name, { durable_name: "drain", ack_policy: AckPolicy.Explicit });
      const pull = await js.consumers.get(name, "drain");
      const t1 = performance.now();
      let got = 0;
      while (got < messages) {
        for await (const msg of await pull.fetch({ max_messages: QUEUE_BATCH, expires: 1000 })) {
          msg.ack();
          got++;
        }
      }
      await until("the bare consumer's acks", async () => (await pendingOf(nc, name, "drain")) === 0);
      const baselineS = (performance.now() - t1) / 1000;
      return {
        messages,
        batchSize: QUEUE_BATCH,
        batches: Number(batches?.n ?? 0),
        drainS: Math.round(drainS * 10) / 10,
        drainPerS: Math.round(messages / drainS),
        baselinePerS: Math.round(messages / baselineS),
      };
    } finally {
      await jsm.streams.delete(name).catch(() => undefined);
    }
  } finally {
    await nc.close();
  }
}

/**
 * Both figures with a scheduler of their own (it needs the plane's master key to open the
 * database secret), stopped before the caller measures anything else.
 */
export async function triggerSourceFigures(
  plane: TriggerPlane,
  options: { changes: number; messages: number },
): Promise<{ database: DatabaseFigures | { skipped: string }; queue: QueueFigures }> {
  const scheduler: RunningScheduler = await plane.startScheduler({
    KUMO_MASTER_KEY: plane.masterKey,
    KUMO_DB_TRIGGER_RECONCILE: "200ms",
    KUMO_QUEUE_TRIGGER_RECONCILE: "100ms",
  });
  try {
    const database = await databaseChangeLatency(plane, options.changes);
    const queue = await queueDrain(plane, options.messages);
    // Let the scheduler drop the deleted database trigger's slot before it stops.
    await sleep(1000);
    return { database, queue };
  } finally {
    await scheduler.stop();
  }
}
