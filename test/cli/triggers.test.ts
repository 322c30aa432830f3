import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { injectFetch } from "./support/inject-fetch.ts";
import { type KumoRun, runKumo } from "./support/run-kumo.ts";

/** `kumo triggers` against the real gateway (PostgreSQL, NATS, isolates) through inject; no scheduler runs. */
describe("kumo cli - triggers", () => {
  let t: TestGateway;
  let dir: string;
  let run: (argv: string[]) => Promise<KumoRun>;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    dir = await mkdtemp(join(tmpdir(), "kumo-cli-triggers-"));
    const tenant = await t.tenant();
    const fetch = injectFetch(t.gateway.app);
    const env = {
      KUMO_URL: "http://127.0.0.1:8080",
      KUMO_API_KEY: tenant.key,
      KUMO_CONFIG: join(dir, "config.json"),
    };
    run = (argv) => runKumo(argv, { cwd: dir, fetch, now: Date.now(), env });
    expect(
      (await t.call("POST", "/v1/functions", { key: tenant.key, body: { name: "export", runtime: "edge" } }))
        .status,
    ).toBe(201);
    const dep = await t.call("POST", "/v1/functions/export/deployments", {
      key: tenant.key,
      body: { files: { "index.ts": "export default { fetch() { return new Response('ok') } }" } },
    });
    expect(dep.json?.status, dep.body).toBe("succeeded");
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("cli triggers - add, ls, next in the zone, pause, resume, fire, rm", async () => {
    const added = await run([
      "triggers",
      "add",
      "export",
      "0 2 * * *",
      "--timezone",
      "Europe/Berlin",
      "--json",
    ]);
    expect(added.code, added.stderr).toBe(0);
    const trigger = JSON.parse(added.stdout);
    expect(trigger).toMatchObject({
      schedule: "0 2 * * *",
      timezone: "Europe/Berlin",
      target: "live",
      paused: false,
    });

    const listed = await run(["triggers", "ls", "export"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(trigger.id);
    expect(listed.stdout).toContain("Europe/Berlin");

    const next = await run(["triggers", "next", "export", trigger.id, "--count", "3"]);
    expect(next.code, next.stderr).toBe(0);
    const times = next.stdout.split("\n").filter((l) => /T02:00:00\+0[12]:00/.test(l));
    expect(times).toHaveLength(3);

    const paused = await run(["triggers", "pause", "export", trigger.id, "--json"]);
    expect(JSON.parse(paused.stdout)).toMatchObject({ paused: true, state: { nextFireAt: null } });
    const resumed = await run(["triggers", "resume", "export", trigger.id]);
    expect(resumed.stdout).toMatch(/Resumed trigger .*next fire 20\d\d-/);

    const fired = await run(["triggers", "fire", "export", trigger.id, "--json"]);
    expect(fired.code, fired.stderr).toBe(0);
    const queued = JSON.parse(fired.stdout);
    expect(queued).toMatchObject({ status: "queued", triggerId: trigger.id });
    await t.gateway.flushRecords();
    const history = await run(["invocations", "export", "--trigger", trigger.id, "--json"]);
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout).items).toMatchObject([
      { id: queued.invocationId, trigger: "cron", triggerId: trigger.id },
    ]);
    const http = await run(["invocations", "export", "--trigger", "http", "--json"]);
    expect(JSON.parse(http.stdout).items).toEqual([]);

    expect((await run(["triggers", "rm", "export", trigger.id])).code).toBe(0);
    expect((await run(["triggers", "ls", "export", "--json"])).stdout).toContain('"items": []');
  });

  it("cli triggers - a bad schedule or option says what to fix", async () => {
    const bad = await run(["triggers", "add", "export", "61 * * * *"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/FN_006.*body\.schedule/);
    const option = await run(["triggers", "add", "export", "@daily", "--overlap", "never"]);
    expect(option.code).not.toBe(0);
    expect(option.stderr).toMatch(/--overlap "never": expected skip, allow, queue/);
  });

  it("cli triggers - add with an alert, jitter, overlap queue; a database trigger with tables, events, columns, filter", async () => {
    const cron = await run([
      "triggers",
      "add",
      "export",
      "*/5 * * * *",
      "--overlap",
      "queue",
      "--jitter",
      "30s",
      "--alert-url",
      "https://hooks.example.com/services/T0/B0?token=abc",
      "--alert-after",
      "3",
      "--alert-format",
      "slack",
      "--alert-secret",
      "HOOK_KEY",
      "--json",
    ]);
    expect(cron.code, cron.stderr).toBe(0);
    const trigger = JSON.parse(cron.stdout);
    expect(trigger).toMatchObject({
      type: "cron",
      overlap: "queue",
      jitterMs: 30_000,
      alert: { after: 3, format: "slack", secret: "HOOK_KEY" },
    });
    // The API never shows the webhook's path or query (they often carry a token).
    expect(trigger.alert.url).not.toContain("abc");
    expect(trigger.alert.url).toMatch(/^https:\/\/hooks\.example\.com/);

    const db = await run([
      "triggers",
      "add",
      "export",
      "--database-secret",
      "SHOP_DB",
      "--tables",
      "orders, shop.items",
      "--events",
      "insert,update",
      "--columns",
      "id,qty",
      "--filter",
      "qty > 0",
      "--alert-url",
      "https://hooks.example.com/db",
    ]);
    expect(db.code, db.stderr).toBe(0);
    expect(db.stdout).toMatch(/Added trigger trg_\S+: insert, update on orders, shop\.items → export@live/);
    const listed = JSON.parse((await run(["triggers", "ls", "export", "--json"])).stdout);
    const database = listed.items.find((t: { type: string }) => t.type === "database");
    expect(database).toMatchObject({
      settings: {
        connectionSecret: "SHOP_DB",
        tables: ["public.orders", "shop.items"],
        events: ["insert", "update"],
        columns: ["id", "qty"],
        filter: "qty > 0",
      },
      alert: { after: 1, format: "json" },
    });
    for (const t of listed.items) expect((await run(["triggers", "rm", "export", t.id])).code).toBe(0);
  });

  it("cli triggers - options of another kind, alert options without --alert-url and bad lists say what to fix", async () => {
    const cases: [string[], RegExp][] = [
      [["--event", "user.*", "--jitter", "5s"], /--jitter is for cron triggers, not event triggers/],
      [["--queue", "jobs", "--tables", "orders"], /--tables is for database triggers, not queue triggers/],
      [["@daily", "--alert-after", "2"], /--alert-after needs --alert-url/],
      [
        ["@daily", "--alert-url", "https://h.example.com", "--alert-format", "xml"],
        /--alert-format "xml": expected json, slack/,
      ],
      [["--database-secret", "SHOP_DB"], /missing --tables/],
      [
        ["--database-secret", "SHOP_DB", "--tables", "orders", "--events", "insert,upsert"],
        /--events "upsert": expected insert, update, delete/,
      ],
      [["--database-secret", "SHOP_DB", "--queue", "jobs"], /give one of --queue, --database-secret/],
      [["@daily", "--jitter", "2h"], /FN_006.*body\.jitter/],
      [["--database-secret", "SHOP_DB", "--tables", "orders;drop"], /FN_006.*body\.tables/],
    ];
    for (const [argv, expected] of cases) {
      const r = await run(["triggers", "add", "export", ...argv]);
      expect(r.code, argv.join(" ")).not.toBe(0);
      expect(r.stderr, argv.join(" ")).toMatch(expected);
    }
    expect(JSON.parse((await run(["triggers", "ls", "export", "--json"])).stdout).items).toEqual([]);
  });

  it("cli events - triggers add --event, events publish with --data and --id, events ls", async () => {
    const added = await run(["triggers", "add", "export", "--event", "user.*", "--json"]);
    expect(added.code, added.stderr).toBe(0);
    const trigger = JSON.parse(added.stdout);
    expect(trigger).toMatchObject({ type: "event", eventType: "user.*", schedule: null });
    const listed = await run(["triggers", "ls", "export"]);
    expect(listed.stdout).toContain("event user.*");
    const published = await run([
      "events",
      "publish",
      "user.created",
      "--data",
      '{"userId": 7}',
      "--id",
      "cli-1",
    ]);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toMatch(/Event cli-1 \(user\.created\) → 1 function/);
    const again = await run(["events", "publish", "user.created", "--id", "cli-1", "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ eventId: "cli-1", duplicate: true });
    const events = await run(["events", "ls", "--json"]);
    expect(JSON.parse(events.stdout).items[0]).toMatchObject({
      id: "cli-1",
      type: "user.created",
      data: { userId: 7 },
      deliveries: [{ triggerId: trigger.id, function: "export" }],
    });
    expect((await run(["events", "ls"])).stdout).toMatch(/cli-1\s+user\.created\s+export:/);
    const badData = await run(["events", "publish", "user.created", "--data", "{nope"]);
    expect(badData.code).not.toBe(0);
    expect(badData.stderr).toMatch(/--data: not JSON/);
    const badPattern = await run(["triggers", "add", "export", "--event", "user.>.x"]);
    expect(badPattern.stderr).toMatch(/FN_006.*body\.eventType/);
    expect((await run(["triggers", "rm", "export", trigger.id])).code).toBe(0);
  });
});
