import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_DATABASE_URL } from "../support/test-gateway.ts";
import { type RunningScheduler, TriggerPlane, waitFor } from "./trigger-plane.ts";

/**
 * Database triggers against the machine's real PostgreSQL (which provisioning sets to
 * wal_level=logical): a throwaway schema per run is the tenant's database, the tenant secret holds
 * its connection string, and an edge function echoes each change event with the moment it started.
 */
const ECHO = `export default { async fetch(request) {
  const startedAt = Date.now();
  const event = await request.json();
  return Response.json({ eventTypeHeader: request.headers.get("kumo-event-type"), startedAt, event });
} };`;

interface ChangeEvent {
  type: string;
  triggerId: string;
  schema: string;
  table: string;
  new: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
  replicaIdentity: string;
  lsn: string;
  index: number;
  committedAt: string;
}

interface Run {
  id: string;
  status: string;
  trigger: string;
  finishedAt: Date | null;
  body: { eventTypeHeader: string; startedAt: number; event: ChangeEvent } | null;
}

let plane: TriggerPlane;
let source: pg.Client;
let scheduler: RunningScheduler;
const schema = `kdb_${Math.random().toString(36).slice(2, 10)}`;
const noReplicationRole = `${schema}_app`;
const triggerIds: string[] = [];

const schedulerEnv = () => ({
  KUMO_MASTER_KEY: plane.masterKey,
  KUMO_DB_TRIGGER_RECONCILE: "200ms",
  KUMO_DB_TRIGGER_RETRY: "200ms",
  KUMO_DB_TRIGGER_RETRY_MAX: "2s",
});

beforeAll(async () => {
  source = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await source.connect();
  const level = await source.query<{ wal_level: string }>("show wal_level");
  if (level.rows[0]?.wal_level !== "logical") {
    throw new Error(
      "PostgreSQL runs with wal_level=replica: run `node scripts/kumo.mjs provision` (it sets wal_level=logical and restarts PostgreSQL once)",
    );
  }
  await source.query(`create schema ${schema}`);
  await source.query(
    `create table ${schema}.orders (id int primary key, item text not null, qty int not null, note text)`,
  );
  await source.query(
    `create table ${schema}.items (id int primary key, name text not null, price int not null, secret text)`,
  );
  await source.query(`create role ${noReplicationRole} login`);
  await source.query(`grant usage on schema ${schema} to ${noReplicationRole}`);
  await source.query(`alter table ${schema}.orders owner to ${noReplicationRole}`);

  plane = await new TriggerPlane().start();
  await plane.deployEdge("changes", ECHO);
  await plane.deployEdge("pricey", ECHO);
  await plane.deployEdge("app", ECHO);
  await putSecret("SOURCE_DB", TEST_DATABASE_URL);
  const appUrl = new URL(TEST_DATABASE_URL);
  appUrl.username = noReplicationRole;
  await putSecret("APP_DB", appUrl.toString());
  scheduler = await plane.startScheduler(schedulerEnv());
}, 180_000);

afterAll(async () => {
  await plane?.close();
  // Whatever happened above, leave no slot pinning WAL on this machine.
  for (const id of triggerIds) {
    const name = `kumo_${id.toLowerCase()}`;
    await source
      ?.query(
        "select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1 and active_pid is not null",
        [name],
      )
      .catch(() => {});
    for (let i = 0; i < 20; i++) {
      const dropped = await source
        ?.query("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1", [
          name,
        ])
        .then(() => true)
        .catch(() => false);
      if (dropped) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await source?.query(`drop publication if exists ${name}`).catch(() => {});
  }
  await source?.query(`drop schema if exists ${schema} cascade`).catch(() => {});
  const database = new URL(TEST_DATABASE_URL).pathname.slice(1);
  await source?.query(`revoke create on database ${database} from ${noReplicationRole}`).catch(() => {});
  await source?.query(`drop role if exists ${noReplicationRole}`).catch(() => {});
  await source?.end();
}, 60_000);

async function putSecret(name: string, value: string, key = plane.tenant.key): Promise<void> {
  const res = await plane.gw.call("PUT", `/v1/secrets/${name}`, { key, body: { value } });
  expect(res.status, res.body).toBeLessThan(300);
}

async function addTrigger(fn: string, body: Record<string, unknown>): Promise<string> {
  const res = await plane.gw.call("POST", `/v1/functions/${fn}/triggers`, {
    key: plane.tenant.key,
    body: { type: "database", ...body },
  });
  expect(res.status, res.body).toBe(201);
  triggerIds.push(res.json.id);
  return res.json.id as string;
}

async function triggerState(fn: string, id: string) {
  const res = await plane.gw.call("GET", `/v1/functions/${fn}/triggers/${id}`, { key: plane.tenant.key });
  expect(res.status, res.body).toBe(200);
  return res.json.state as {
    lastStatus: string | null;
    lastError: string | null;
    lastInvocationId: string | null;
    source: { slot?: string; streaming?: boolean; confirmedLsn?: string; error?: string | null } | null;
  };
}

async function streaming(fn: string, id: string): Promise<void> {
  let last: unknown;
  await waitFor(`trigger ${id} streaming`, async () => {
    const state = await triggerState(fn, id);
    last = state;
    return state.source?.streaming;
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}; its state: ${JSON.stringify(last)}`);
  });
}

/** A trigger's runs in the order they finished (the order the function saw them). */
async function runs(triggerId: string): Promise<Run[]> {
  const rows = await plane.gw.gateway.database.db
    .selectFrom("invocations")
    .select(["id", "status", "trigger", "finished_at", "result"])
    .where("tenant_id", "=", plane.tenant.id)
    .where("trigger_id", "=", triggerId)
    .execute();
  return rows
    .map((r) => ({
      id: r.id,
      status: r.status,
      trigger: r.trigger,
      finishedAt: r.finished_at,
      body: r.result ? (JSON.parse(Buffer.from(r.result).toString("utf8")) as Run["body"]) : null,
    }))
    .sort(
      (a, b) =>
        (a.body?.startedAt ?? Number.MAX_SAFE_INTEGER) - (b.body?.startedAt ?? Number.MAX_SAFE_INTEGER),
    );
}

async function succeeded(triggerId: string, count: number, timeoutMs = 30_000): Promise<Run[]> {
  return waitFor(
    `${count} runs of ${triggerId}`,
    async () => {
      const all = await runs(triggerId);
      return all.filter((r) => r.status === "succeeded").length >= count ? all : undefined;
    },
    timeoutMs,
  );
}

async function slotAndPublication(id: string): Promise<{ slot: boolean; publication: boolean }> {
  const name = `kumo_${id.toLowerCase()}`;
  const slot = await source.query("select 1 from pg_replication_slots where slot_name = $1", [name]);
  const publication = await source.query("select 1 from pg_publication where pubname = $1", [name]);
  return { slot: slot.rowCount === 1, publication: publication.rowCount === 1 };
}

describe("triggers - database", () => {
  let ordersTrigger = "";

  it("database - insert, update and delete reach the function with new/old rows, one at a time in commit order", async () => {
    ordersTrigger = await addTrigger("changes", {
      connectionSecret: "SOURCE_DB",
      tables: [`${schema}.orders`],
    });
    await streaming("changes", ordersTrigger);
    expect(await slotAndPublication(ordersTrigger)).toEqual({ slot: true, publication: true });

    const committed: number[] = [];
    const commit = async (statements: string[]) => {
      await source.query("begin");
      for (const s of statements) await source.query(s);
      await source.query("commit");
      committed.push(Date.now());
    };
    await commit([`insert into ${schema}.orders values (1, 'tea', 2, null)`]);
    await commit([`update ${schema}.orders set qty = 3 where id = 1`]);
    await commit([
      `insert into ${schema}.orders values (2, 'cake', 1, 'birthday')`,
      `update ${schema}.orders set note = 'gift' where id = 2`,
    ]);
    await commit([`delete from ${schema}.orders where id = 1`]);

    const all = await succeeded(ordersTrigger, 5);
    expect(all).toHaveLength(5);
    const events = all.map((r) => r.body?.event);
    expect(all.every((r) => r.trigger === "database" && r.body?.eventTypeHeader === "database")).toBe(true);
    expect(events.map((e) => [e?.type, e?.new, e?.old])).toEqual([
      ["db.insert", { id: 1, item: "tea", qty: 2, note: null }, null],
      // REPLICA IDENTITY DEFAULT: an update that keeps the key sends no old row.
      ["db.update", { id: 1, item: "tea", qty: 3, note: null }, null],
      ["db.insert", { id: 2, item: "cake", qty: 1, note: "birthday" }, null],
      ["db.update", { id: 2, item: "cake", qty: 1, note: "gift" }, null],
      // ...and a delete only the key's columns.
      ["db.delete", null, { id: 1 }],
    ]);
    for (const e of events) {
      expect(e).toMatchObject({
        triggerId: ordersTrigger,
        schema,
        table: "orders",
        replicaIdentity: "default",
        lsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/),
        committedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
    }
    // The two changes of one transaction share its commit LSN, in their order within it.
    expect(events[2]?.lsn).toBe(events[3]?.lsn);
    expect([events[2]?.index, events[3]?.index]).toEqual([0, 1]);
    // Serialized: each run started after the previous one finished.
    for (let i = 1; i < all.length; i++) {
      expect(all[i]?.body?.startedAt ?? 0).toBeGreaterThanOrEqual(all[i - 1]?.finishedAt?.getTime() ?? 0);
    }
    // Commit -> function start, as the function's clock saw it (same machine): the first change
    // includes the isolate's cold start; then single changes into an idle, warm stream.
    const latencies = [(all[0]?.body?.startedAt ?? 0) - (committed[0] ?? 0)];
    for (let i = 0; i < 5; i++) {
      await commit([`insert into ${schema}.orders values (${100 + i}, 'warm', 1, null)`]);
      const run = await succeeded(ordersTrigger, 6 + i);
      latencies.push((run.at(-1)?.body?.startedAt ?? 0) - (committed.at(-1) ?? 0));
    }
    console.log(
      `database trigger: commit -> function start ms: cold ${latencies[0]}, warm ${latencies.slice(1).join(", ")}`,
    );
    await source.query(`delete from ${schema}.orders where id >= 100`);
    await succeeded(ordersTrigger, 15);

    const state = await waitFor("the trigger's state to settle", async () => {
      const s = await triggerState("changes", ordersTrigger);
      return s.lastStatus === "succeeded" ? s : undefined;
    });
    expect(state.lastInvocationId).toBe((await runs(ordersTrigger)).at(-1)?.id);
    expect(state.source).toMatchObject({ slot: `kumo_${ordersTrigger}`, error: null });
  });

  it("database - rows changed while the scheduler was stopped are delivered when it is back", async () => {
    const before = (await runs(ordersTrigger)).length;
    await scheduler.stop();
    await source.query(`insert into ${schema}.orders values (10, 'offline-a', 1, null)`);
    await source.query(`insert into ${schema}.orders values (11, 'offline-b', 1, null)`);
    // The slot stayed, holding the changes.
    expect((await slotAndPublication(ordersTrigger)).slot).toBe(true);
    scheduler = await plane.startScheduler(schedulerEnv());
    const all = await succeeded(ordersTrigger, before + 2);
    expect(all.slice(before).map((r) => r.body?.event.new?.item)).toEqual(["offline-a", "offline-b"]);
    // Nothing delivered before is delivered again.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await runs(ordersTrigger)).toHaveLength(before + 2);
  });

  it("database - the column list and the row filter apply (key columns always included)", async () => {
    const id = await addTrigger("pricey", {
      connectionSecret: "SOURCE_DB",
      tables: [`${schema}.items`],
      events: ["insert"],
      columns: ["name", "price"],
      filter: "price > 100",
    });
    await streaming("pricey", id);
    await source.query(`insert into ${schema}.items values (1, 'pen', 5, 'hidden')`);
    await source.query(`insert into ${schema}.items values (2, 'desk', 300, 'hidden')`);
    await source.query(`update ${schema}.items set price = 400 where id = 2`);
    const all = await succeeded(id, 1);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await runs(id)).map((r) => [r.body?.event.type, r.body?.event.new])).toEqual([
      ["db.insert", { id: 2, name: "desk", price: 300 }],
    ]);
    expect(all).toHaveLength(1);
  });

  it("database - a filter outside the replica identity with updates published is an error naming it", async () => {
    const id = await addTrigger("pricey", {
      connectionSecret: "SOURCE_DB",
      tables: [`${schema}.items`],
      events: ["update"],
      filter: "price > 100",
    });
    const state = await waitFor("the error state", async () => {
      const s = await triggerState("pricey", id);
      return s.lastStatus === "error" ? s : undefined;
    });
    expect(state.lastError).toMatch(/filter uses price .*replica identity/);
    // Nothing left on the tenant's table that would make PostgreSQL refuse its UPDATEs.
    expect((await slotAndPublication(id)).publication).toBe(false);
    await source.query(`update ${schema}.items set price = 500 where id = 2`);
  });

  it("database - a role without REPLICATION and an unknown table put the trigger in error, naming what is missing", async () => {
    const noPrivilege = await addTrigger("app", { connectionSecret: "APP_DB", tables: [`${schema}.orders`] });
    const unknown = await addTrigger("app", { connectionSecret: "SOURCE_DB", tables: [`${schema}.nope`] });
    const missingSecret = await addTrigger("app", { connectionSecret: "NO_SUCH_SECRET", tables: ["orders"] });
    const errorOf = (id: string) =>
      waitFor(`the error state of ${id}`, async () => {
        const s = await triggerState("app", id);
        return s.lastStatus === "error" ? s : undefined;
      });
    const a = await errorOf(noPrivilege);
    expect(a.lastError).toContain(`role ${noReplicationRole} lacks the REPLICATION privilege`);
    expect(a.source?.error).toBe(a.lastError);
    expect((await errorOf(unknown)).lastError).toContain(`table ${schema}.nope does not exist`);
    expect((await errorOf(missingSecret)).lastError).toContain("NO_SUCH_SECRET does not exist");
    // The broken triggers block nothing: the orders trigger still streams.
    const before = (await runs(ordersTrigger)).length;
    await source.query(`insert into ${schema}.orders values (20, 'still', 1, null)`);
    await succeeded(ordersTrigger, before + 1);
    // Granting what it lacked lets the retry succeed (CREATE PUBLICATION also needs CREATE on the
    // database, which the state names next).
    await source.query(`alter role ${noReplicationRole} replication`);
    const next = await waitFor("the next missing privilege", async () => {
      const s = await triggerState("app", noPrivilege);
      return s.lastError?.includes("CREATE privilege") ? s : undefined;
    });
    expect(next.lastError).toContain(`role ${noReplicationRole} lacks the CREATE privilege on database`);
    await source.query(
      `grant create on database ${new URL(TEST_DATABASE_URL).pathname.slice(1)} to ${noReplicationRole}`,
    );
    await streaming("app", noPrivilege);
    expect((await triggerState("app", noPrivilege)).lastStatus).toBeNull();
  });

  it("database - tenant B can neither see, change nor delete tenant A's database trigger", async () => {
    const b = await plane.gw.tenant();
    await plane.gw.call("POST", "/v1/functions", { key: b.key, body: { name: "changes", runtime: "edge" } });
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { paused: true }],
      ["DELETE", undefined],
    ] as const) {
      const res = await plane.gw.call(method, `/v1/functions/changes/triggers/${ordersTrigger}`, {
        key: b.key,
        ...(body ? { body } : {}),
      });
      expect(res.status, `${method} ${res.body}`).toBe(404);
    }
    const listed = await plane.gw.call("GET", "/v1/functions/changes/triggers", { key: b.key });
    expect(listed.json.items).toEqual([]);
    expect((await triggerState("changes", ordersTrigger)).source?.streaming).toBe(true);
  });

  it("database - deleting the trigger drops its slot and publication", async () => {
    const res = await plane.gw.call("DELETE", `/v1/functions/changes/triggers/${ordersTrigger}`, {
      key: plane.tenant.key,
    });
    expect(res.status, res.body).toBe(204);
    // The slot, the publication and the slot's registration go in that order, not at once.
    await waitFor("slot, publication and registration dropped", async () => {
      const left = await slotAndPublication(ordersTrigger);
      const registered = await plane.gw.gateway.database.db
        .selectFrom("trigger_slots")
        .select("trigger_id")
        .where("trigger_id", "=", ordersTrigger)
        .execute();
      return !left.slot && !left.publication && registered.length === 0;
    });
  });

  it("database - deleting the function drops the slots of its triggers (rows gone by cascade)", async () => {
    const appTriggers = await plane.gw.call("GET", "/v1/functions/app/triggers", { key: plane.tenant.key });
    const ids = (appTriggers.json.items as { id: string }[]).map((t) => t.id);
    expect(ids.length).toBeGreaterThan(0);
    // The trigger whose role got its privileges streams; the broken ones have no slot.
    const withSlot: string[] = [];
    for (const id of ids) if ((await slotAndPublication(id)).slot) withSlot.push(id);
    expect(withSlot).toHaveLength(1);
    const res = await plane.gw.call("DELETE", "/v1/functions/app", { key: plane.tenant.key });
    expect(res.status, res.body).toBeLessThan(300);
    await waitFor("the function's slots dropped", async () => {
      for (const id of ids) {
        const left = await slotAndPublication(id);
        if (left.slot || left.publication) return false;
      }
      return true;
    });
  });
});
