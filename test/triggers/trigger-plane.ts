import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Autoscaler, loadAutoscalerConfig, start as startAutoscaler } from "@kumo/autoscaler";
import { connectBus, deleteNamespaceStreams, jetstreamManager, type NatsConnection } from "@kumo/bus";
import { loadSchedulerConfig, type Scheduler, start as startScheduler } from "@kumo/scheduler";
import { sql } from "kysely";
import { waitFor as planeWaitFor, testAutoscalerEnv } from "../invocation/plane.ts";
import {
  startTestGateway,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  type TestGateway,
} from "../support/test-gateway.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface RunningScheduler {
  scheduler: Scheduler;
  nc: NatsConnection;
  /** Cuts its NATS connection without releasing the lease, as a killed process would. */
  cut(): Promise<void>;
  stop(): Promise<void>;
}

/** One run of a cron-triggered function, as its record and its logs show it. */
export interface CronRun {
  id: string;
  status: string;
  trigger: string;
  triggerId: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  /** The event the function received (it echoes it). */
  event: {
    type: string;
    triggerId: string;
    scheduledAt: string;
    firedAt: string;
    lastScheduledAt: string | null;
    manual: boolean;
  } | null;
  /** How many times the function ran for this invocation (log lines it wrote). */
  executions: number;
}

/**
 * Triggers end to end for one test file: a gateway with edge isolates, an in-process autoscaler that
 * runs async edge invocations, and schedulers started on demand, all on one bus namespace and one
 * database schema (real NATS, real PostgreSQL).
 */
export class TriggerPlane {
  readonly namespace = `t${randomBytes(5).toString("hex")}`;
  readonly masterKey = randomBytes(32).toString("hex");
  readonly dataDir = `/tmp/kumo-triggers-${this.namespace}`;
  gw!: TestGateway;
  tenant!: { name: string; id: string; key: string };
  autoscaler!: Autoscaler;
  readonly schedulers: RunningScheduler[] = [];
  readonly children: ChildProcess[] = [];

  async start(): Promise<this> {
    this.gw = await startTestGateway({
      edge: true,
      env: { KUMO_BUS_NAMESPACE: this.namespace, KUMO_MASTER_KEY: this.masterKey },
    });
    this.tenant = await this.gw.tenant();
    this.autoscaler = await startAutoscaler(
      loadAutoscalerConfig(
        testAutoscalerEnv({
          nodeId: `${this.namespace}-n1`,
          namespace: this.namespace,
          schema: this.gw.schema,
          masterKey: this.masterKey,
          dataDir: this.dataDir,
        }),
      ),
      { database: this.gw.gateway.database, log: () => {} },
    );
    return this;
  }

  /** A scheduler on its own NATS connection (so a test can cut it). */
  async startScheduler(env: Record<string, string> = {}, now?: () => number): Promise<RunningScheduler> {
    const nc = await connectBus({ url: TEST_NATS_URL, name: "kumo-scheduler-test" });
    const scheduler = await startScheduler(
      loadSchedulerConfig({
        KUMO_SCHEDULER_PORT: "0",
        KUMO_BUS_NAMESPACE: this.namespace,
        KUMO_SCHEDULER_TICK: "100ms",
        KUMO_SCHEDULER_LEASE_TTL: "2s",
        KUMO_RECORD_FLUSH: "20ms",
        ...env,
      }),
      { nats: nc, database: this.gw.gateway.database, log: () => {}, ...(now ? { now } : {}) },
    );
    let stopped = false;
    const running: RunningScheduler = {
      scheduler,
      nc,
      cut: async () => {
        await nc.close();
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await scheduler.stop();
        if (!nc.isClosed()) await nc.close();
      },
    };
    this.schedulers.push(running);
    return running;
  }

  /** A scheduler as its own process (services/scheduler/src/main.ts), resolved once it is ready. */
  async spawnScheduler(env: Record<string, string> = {}): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "services/scheduler/src/main.ts"], {
      cwd: repoRoot,
      env: {
        ...process.env,
        KUMO_SCHEDULER_PORT: "0",
        NATS_URL: TEST_NATS_URL,
        KUMO_BUS_NAMESPACE: this.namespace,
        DATABASE_URL: TEST_DATABASE_URL,
        KUMO_DATABASE_SCHEMA: this.gw.schema,
        KUMO_SCHEDULER_TICK: "100ms",
        KUMO_SCHEDULER_LEASE_TTL: "2s",
        KUMO_RECORD_FLUSH: "20ms",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.push(child);
    let output = "";
    return new Promise<ChildProcess>((ready, fail) => {
      child.stdout?.on("data", (d: Buffer) => {
        output += d.toString();
        if (output.includes("ready")) ready(child);
      });
      child.stderr?.on("data", (d: Buffer) => {
        output += d.toString();
      });
      child.on("exit", (code) => fail(new Error(`scheduler exited early (${code}): ${output}`)));
    });
  }

  /** Creates an edge function and deploys `code` (optionally with kumo.json settings). */
  async deployEdge(name: string, code: string, config: Record<string, unknown> = {}): Promise<void> {
    const created = await this.gw.call("POST", "/v1/functions", {
      key: this.tenant.key,
      body: { name, runtime: "edge" },
    });
    if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${created.body}`);
    const dep = await this.gw.call("POST", `/v1/functions/${name}/deployments`, {
      key: this.tenant.key,
      body: { files: { "index.ts": code }, config },
    });
    if (dep.json?.status !== "succeeded") throw new Error(`deploy ${name}: ${dep.status} ${dep.body}`);
  }

  /** Every run of a trigger, oldest slot first, straight from the database. */
  async runs(triggerId: string): Promise<CronRun[]> {
    const db = this.gw.gateway.database.db;
    const rows = await db
      .selectFrom("invocations")
      .select(["id", "status", "trigger", "trigger_id", "started_at", "finished_at", "result"])
      .where("tenant_id", "=", this.tenant.id)
      .where("trigger_id", "=", triggerId)
      .execute();
    const logs = await sql<{ invocation_id: string; n: string }>`
      select invocation_id, count(*) as n from logs
      where tenant_id = ${this.tenant.id} and message like 'slot %'
        and invocation_id = any(${rows.map((r) => r.id)})
      group by invocation_id`.execute(db);
    const executions = new Map(logs.rows.map((r) => [r.invocation_id, Number(r.n)]));
    return rows
      .map((r) => ({
        id: r.id,
        status: r.status,
        trigger: r.trigger,
        triggerId: r.trigger_id,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        event: r.result ? (JSON.parse(Buffer.from(r.result).toString("utf8")) as CronRun["event"]) : null,
        executions: executions.get(r.id) ?? 0,
      }))
      .sort((a, b) => (a.event?.scheduledAt ?? "").localeCompare(b.event?.scheduledAt ?? ""));
  }

  async close(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null) child.kill("SIGKILL");
    for (const s of this.schedulers) await s.stop().catch(() => {});
    await this.autoscaler?.stop().catch(() => {});
    await this.gw?.close().catch(() => {});
    const nc = await connectBus({ url: TEST_NATS_URL, name: "kumo-triggers-cleanup" });
    await deleteNamespaceStreams(await jetstreamManager(nc), this.namespace).catch(() => {});
    await nc.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** The invocation plane's poll, with a longer default: schedules fire once a second. */
export const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000) =>
  planeWaitFor(what, probe, timeoutMs);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
