import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureDevTenant } from "@kumo/all-in-one";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, TEST_DATABASE_URL } from "../support/test-gateway.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The all-in-one launcher itself, as scripts/commands/start.mjs runs it. */
const APP = ["--import", "tsx", join(ROOT, "apps/all-in-one/src/main.ts")];
const LAUNCHER = join(ROOT, "scripts/kumo.mjs");

interface Launched {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  /** Resolves with the exit code (null when killed by a signal), or "running" after `ms`. */
  exit: (ms: number) => Promise<number | null | "running">;
}

/** Processes and servers this file started, ended by pid in afterEach whatever happened. */
const pids = new Set<number>();
const servers: Server[] = [];

function launch(command: string[], env: Record<string, string>): Launched {
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    env: { ...process.env, KUMO_CONFIG: "/nonexistent/kumo.json", KUMO_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid) pids.add(child.pid);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => ({ stdout, stderr }),
    exit: (ms) => Promise.race([exited, sleep(ms).then(() => "running" as const)]),
  };
}

/** A port on 127.0.0.1 held by this test for as long as the file runs. */
async function holdPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  servers.push(server);
  return portOf(server);
}

function portOf(server: Server): number {
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("not listening");
  return address.port;
}

/** Whether something can listen on the port now, i.e. nobody holds it. */
async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once("error", () => resolve(false));
    probe.listen({ host: "127.0.0.1", port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const port = portOf(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Alive and not a zombie (a reparented child may wait for a reaper that never comes). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(100);
  }
  return check();
}

describe("all-in-one launcher (npm start) - flags, the dev tenant, startup failures and orphans", () => {
  let dataDir: string;
  /** A fresh schema of the test database per platform started, dropped at the end. */
  const schemas: string[] = [];
  const database = () => {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    return { DATABASE_URL: TEST_DATABASE_URL, KUMO_DATABASE_SCHEMA: schema };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "kumo-dev-lifecycle-"));
  });
  afterEach(() => {
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, "SIGKILL");
    pids.clear();
  });
  afterAll(async () => {
    for (const server of servers) server.close();
    await rm(dataDir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    for (const schema of schemas) await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });

  it("all-in-one - checks its flags before loading the services", async () => {
    const run = launch([...APP, "--port", "http"], {});
    expect(await run.exit(20_000)).toBe(2);
    expect(run.output().stderr).toContain('error USAGE: --port must be an integer 1..65535, got "http"');
    const unknown = launch([...APP, "--no-such-flag"], {});
    expect(await unknown.exit(20_000)).toBe(2);
    expect(unknown.output().stderr).toContain("error USAGE");
  }, 45_000);

  it("all-in-one - the dev tenant and its key are made through the public API, and made again when the key is lost", async () => {
    const t = await startTestGateway();
    try {
      const path = join(dataDir, "dev-tenant.key");
      const whoami = async (key: string) => (await t.call("GET", "/v1/whoami", { key })).json;
      const first = await ensureDevTenant(t.gateway, path);
      expect(first.created).toBe(true);
      expect(readFileSync(path, "utf8").trim()).toBe(first.key);
      expect(await whoami(first.key)).toMatchObject({ tenant: { name: "dev" } });
      const again = await ensureDevTenant(t.gateway, path);
      expect(again).toMatchObject({ created: false, key: first.key });
      await rm(path);
      const replaced = await ensureDevTenant(t.gateway, path);
      expect(replaced.created).toBe(true);
      expect(replaced.key).not.toBe(first.key);
      expect(await whoami(replaced.key)).toMatchObject({ tenant: { name: "dev" } });
      // Both keys were issued through the API, so both are listed there.
      const keys = await t.call("GET", "/v1/tenants/dev/api-keys", { key: t.adminKey });
      expect(keys.json.items).toHaveLength(2);
    } finally {
      await t.close();
    }
  });

  it("all-in-one - a taken port is refused with how to choose another, and the process exits", async () => {
    const port = await holdPort();
    const dev = launch([...APP, "--port", String(port), "--data-dir", join(dataDir, "taken")], database());
    const code = await dev.exit(30_000);
    const { stdout, stderr } = dev.output();
    expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(1);
    expect(stderr).toContain(`error ADDRESS_IN_USE: port ${port} on 127.0.0.1 is already in use`);
    expect(stderr).toContain("--port <n>");
    expect(stderr).toContain("KUMO_PORT");
    expect(stderr).not.toContain("this is a bug");
    expect(existsSync(join(dataDir, "taken", "builder.sock"))).toBe(false);
  }, 40_000);

  it("all-in-one - a failure after the gateway started stops it (and the rest): the process exits, the port is free", async () => {
    // The gateway starts and listens first; then the builder cannot bind its address.
    const builderPort = await holdPort();
    const gatewayPort = await freePort();
    const dev = launch([...APP, "--port", String(gatewayPort), "--data-dir", join(dataDir, "late")], {
      ...database(),
      KUMO_BUILDER_LISTEN: `127.0.0.1:${builderPort}`,
      KUMO_BUILDER_URL: `127.0.0.1:${builderPort}`,
    });
    const code = await dev.exit(150_000);
    const { stdout, stderr } = dev.output();
    expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(1);
    expect(stderr).toContain("error ADDRESS_IN_USE");
    expect(stderr).toContain(`127.0.0.1:${builderPort}`);
    expect(stderr).toContain("KUMO_BUILDER_LISTEN");
    expect(await portIsFree(gatewayPort)).toBe(true);
  }, 180_000);

  it("npm start - when the launcher is SIGKILLed, the platform it spawned stops and frees its port", async () => {
    const port = await freePort();
    const launcher = launch([LAUNCHER, "start", "--port", String(port)], {
      ...database(),
      KUMO_SKIP_PROVISION: "1",
      KUMO_DATA_DIR: join(dataDir, "orphan"),
    });
    const up = await waitFor(
      () => launcher.output().stdout.includes(`gateway   http://127.0.0.1:${port}`),
      150_000,
    );
    expect(up, `stdout: ${launcher.output().stdout}\nstderr: ${launcher.output().stderr}`).toBe(true);
    const { stdout: children } = await promisify(execFile)("pgrep", ["-P", String(launcher.child.pid)]);
    const platform = Number(children.trim().split("\n")[0]);
    expect(platform).toBeGreaterThan(0);
    pids.add(platform);
    expect(await portIsFree(port)).toBe(false);

    launcher.child.kill("SIGKILL");
    expect(await launcher.exit(10_000)).toBe(null);
    // The platform notices that its parent is gone, stops its services and exits.
    expect(await waitFor(() => !isRunning(platform), 30_000), "the platform outlived its launcher").toBe(
      true,
    );
    expect(await portIsFree(port)).toBe(true);
    // It shares the launcher's stdout, so its goodbye arrives on the same pipe.
    expect(launcher.output().stdout).toContain("launcher exited: stopping");
  }, 200_000);
});
