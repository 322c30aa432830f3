import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { crc32 } from "node:zlib";
import { loadAutoscalerConfig, start as startAutoscaler } from "@kumo/autoscaler";
import {
  BuildClient,
  type Builder,
  type EnsureImages,
  loadBuilderConfig,
  start as startBuilder,
} from "@kumo/builder";
import { connectBus, deleteNamespaceStreams, jetstreamManager } from "@kumo/bus";
import { packSourceArchive } from "@kumo/source";
import { testAutoscalerEnv } from "../invocation/plane.ts";
import { ensureRuntimeImages } from "../runtimes/runtime-harness.ts";
import { startTestGateway, TEST_NATS_URL, type TestGateway } from "../support/test-gateway.ts";

export const run = promisify(execFile);

/**
 * A real builder (gRPC on a free port, test-labelled images) behind a test gateway. No CA setting:
 * installs reach registries through this machine's TLS-intercepting proxy on the host's CA bundle
 * alone, as a default install does; git sources keep the default address policy (file:// is on).
 */
export interface BuildKit {
  tg: TestGateway;
  builder: Builder;
  client: BuildClient;
  tenant: { name: string; id: string; key: string };
  /** Creates a function and deploys files to it; waits for the deployment to finish. */
  deploy(name: string, runtime: string, files: Record<string, string | Buffer>): Promise<Deployment>;
  waitFor(name: string, id: string): Promise<Deployment>;
  ensureFunction(name: string, runtime: string): Promise<void>;
  tempDir(): string;
  close(): Promise<void>;
}

export interface Deployment {
  id: string;
  status: string;
  version: number | null;
  log: string;
  error: { code: string; message: string } | null;
}

export async function startBuildKit(
  options: { edge?: boolean; builderEnv?: Record<string, string> } = {},
): Promise<BuildKit> {
  const builder = await startBuilder(
    loadBuilderConfig({
      KUMO_BUILDER_PORT: "0",
      KUMO_BUILDER_LISTEN: "127.0.0.1:0",
      NATS_URL: TEST_NATS_URL,
      KUMO_BUILD_LABELS: "dev.kumo.test=1",
      KUMO_BUILD_GIT_ALLOW_FILE: "1",
      KUMO_BUILD_TIMEOUT: "3m",
      ...options.builderEnv,
    }),
    { ensureImages: await checkoutImages() },
  );
  const client = new BuildClient(builder.grpcAddress);
  // edge: the real isolate host too, for edge functions whose npm dependencies the builder installs.
  const tg = await startTestGateway({ builder: client, ...(options.edge ? { edge: true } : {}) });
  const tenant = await tg.tenant();
  const dirs: string[] = [];
  const created = new Set<string>();
  const kit: BuildKit = {
    tg,
    builder,
    client,
    tenant,
    async ensureFunction(name, runtime) {
      if (created.has(name)) return;
      const res = await tg.call("POST", "/v1/functions", { key: tenant.key, body: { name, runtime } });
      if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${res.body}`);
      created.add(name);
    },
    async deploy(name, runtime, files) {
      await kit.ensureFunction(name, runtime);
      const map = new Map(Object.entries(files).map(([p, c]) => [p, Buffer.from(c)] as const));
      const res = await tg.call("POST", `/v1/functions/${name}/deployments`, {
        key: tenant.key,
        body: await packSourceArchive(map),
        headers: { "content-type": "application/x-tar" },
      });
      if (res.status !== 202) throw new Error(`deploy ${name}: ${res.status} ${res.body}`);
      return kit.waitFor(name, res.json.id);
    },
    async waitFor(name, id) {
      const deadline = Date.now() + 180_000;
      for (;;) {
        const res = await tg.call("GET", `/v1/functions/${name}/deployments/${id}`, { key: tenant.key });
        if (res.json.status === "succeeded" || res.json.status === "failed") return res.json as Deployment;
        if (Date.now() > deadline) throw new Error(`deployment ${id} did not finish: ${res.body}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), "kumo-build-test-"));
      dirs.push(dir);
      return dir;
    },
    async close() {
      client.close();
      await tg.close();
      await builder.stop();
      // Every image (final and intermediate stages) of this tenant carries its label.
      const { stdout } = await run("docker", [
        "images",
        "-aq",
        "--filter",
        `label=dev.kumo.tenant=${tenant.id}`,
      ]);
      const ids = [...new Set(stdout.split("\n").filter(Boolean))];
      // --no-prune: untagged parents without this tenant's label (dependency stages) are shared
      // through the build cache with other test files' builds; the global teardown prunes them.
      if (ids.length > 0) await run("docker", ["rmi", "-f", "--no-prune", ...ids]).catch(() => {});
      // What is left of this tenant's builds is its own (no other file builds for this tenant).
      await run("docker", ["image", "prune", "-f", "--filter", `label=dev.kumo.tenant=${tenant.id}`]).catch(
        () => {},
      );
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
  return kit;
}

/** Writes files into a directory (creating parents). */
export function writeTree(dir: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** A git repository with the files committed on main. */
export async function gitRepo(dir: string, files: Record<string, string | Buffer>): Promise<string> {
  writeTree(dir, files);
  const git = (...args: string[]) => run("git", ["-C", dir, ...args]);
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("-c", "user.name=test", "-c", "user.email=test@kumo.invalid", "commit", "-q", "-m", "source");
  return dir;
}

/**
 * A pure-Python wheel made here (PyPI is not reachable from this machine): `name` with one module.
 * Stored (uncompressed) zip; pip checks RECORD hashes, so they are real.
 */
export function makeWheel(
  name: string,
  version: string,
  files: Record<string, string>,
): { path: string; content: Buffer } {
  const dist = `${name}-${version}.dist-info`;
  const all: Record<string, string> = {
    ...files,
    [`${dist}/METADATA`]: `Metadata-Version: 2.1\nName: ${name.replace(/_/g, "-")}\nVersion: ${version}\n`,
    [`${dist}/WHEEL`]: "Wheel-Version: 1.0\nGenerator: kumo-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
  };
  let record = "";
  for (const [path, content] of Object.entries(all)) {
    const digest = createHash("sha256").update(content).digest("base64url");
    record += `${path},sha256=${digest},${Buffer.byteLength(content)}\n`;
  }
  all[`${dist}/RECORD`] = `${record}${dist}/RECORD,,\n`;
  return { path: `${name}-${version}-py3-none-any.whl`, content: zipStored(all) };
}

function zipStored(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const nameBuf = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, data);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

/** The checkout's image builder: missing runtime images are built before a build needs them. */
async function checkoutImages(): Promise<EnsureImages> {
  const script = new URL("../../scripts/images.mjs", import.meta.url).href;
  return ((await import(script)) as { ensureImages: EnsureImages }).ensureImages;
}

/**
 * A build kit with an autoscaler node of its own (its containers labelled with a fresh node id), so
 * deployed container functions also run through `/fn`; `close()` removes the node's containers, the
 * gateway's streams and the node's data directory.
 */
export async function startBuildKitWithNode(
  name: string,
  runtimes: Parameters<typeof ensureRuntimeImages>[0],
  options: { builderEnv?: Record<string, string>; autoscalerEnv?: Record<string, string> } = {},
): Promise<{ kit: BuildKit; nodeId: string; close(): Promise<void> }> {
  const nodeId = `${name.slice(0, 2)}${randomBytes(4).toString("hex")}`;
  const dataDir = `/tmp/kumo-${name}-${nodeId}`;
  await ensureRuntimeImages(runtimes);
  const kit = await startBuildKit(options.builderEnv ? { builderEnv: options.builderEnv } : {});
  const autoscaler = await startAutoscaler(
    loadAutoscalerConfig({
      ...testAutoscalerEnv({
        nodeId,
        namespace: undefined,
        schema: kit.tg.schema,
        masterKey: randomBytes(32).toString("hex"),
        dataDir,
      }),
      ...options.autoscalerEnv,
    }),
    { database: kit.tg.gateway.database, log: () => {} },
  );
  return {
    kit,
    nodeId,
    async close() {
      await autoscaler.stop().catch(() => {});
      const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=dev.kumo.node=${nodeId}`]);
      const ids = stdout.split("\n").filter(Boolean);
      if (ids.length > 0) await run("docker", ["rm", "-f", ...ids]).catch(() => {});
      const namespace = kit.tg.gateway.namespace;
      await kit.close();
      const nc = await connectBus({ url: TEST_NATS_URL, name: `${name}-test` });
      const jsm = await jetstreamManager(nc).catch(() => undefined);
      if (jsm && namespace) await deleteNamespaceStreams(jsm, namespace);
      await nc.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
