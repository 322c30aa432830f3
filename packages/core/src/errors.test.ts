import { createServer } from "node:net";
import pg from "pg";
import { expect, test } from "vitest";
import { httpStatusOf, KumoError, toKumoError } from "./errors.ts";

const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

test("errors - anything unexpected is FN_500", () => {
  const error = toKumoError(new TypeError("x is undefined"));
  expect(error.code).toBe("FN_500");
  expect(httpStatusOf(error)).toBe(500);
  const coded = new KumoError("FN_006", "bad");
  expect(toKumoError(coded)).toBe(coded);
});

test("errors - a database that refuses connections is FN_008 (503, retry), not a platform defect", async () => {
  // A port nothing listens on: the real refusal node-postgres reports.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const port = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "test" });
  const refused = await client.connect().catch((e: unknown) => e);
  const error = toKumoError(refused);
  expect(error.code).toBe("FN_008");
  expect(httpStatusOf(error)).toBe(503);
  expect(error.message).toMatch(/database is unavailable.*retry/);
});

test("errors - a session PostgreSQL terminates (restart, failover: SQLSTATE 57P01) is FN_008", async () => {
  const victim = new pg.Client({ connectionString: DATABASE_URL });
  await victim.connect();
  victim.on("error", () => {});
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    const pid = (await victim.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]?.pid;
    const pending = victim.query("select pg_sleep(5)").catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    await admin.query("select pg_terminate_backend($1)", [pid]);
    const error = toKumoError(await pending);
    expect(error.code).toBe("FN_008");
  } finally {
    await admin.end();
    await victim.end().catch(() => {});
  }
});
