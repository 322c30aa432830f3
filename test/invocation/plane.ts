import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { promisify } from "node:util";
import { type Autoscaler, loadAutoscalerConfig, start as startAutoscaler } from "@kumo/autoscaler";
import { connectBus, deleteNamespaceStreams, jetstreamManager, type NatsConnection } from "@kumo/bus";
import { type FunctionConfigInput, functionConfigSchema } from "@kumo/core";
import { PlatformStore } from "@kumo/db";
import { ensureRuntimeImages, type Lang, RuntimeHarness, TEST_LABEL } from "../runtimes/runtime-harness.ts";
import {
  startTestGateway,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  type TestGateway,
} from "../support/test-gateway.ts";

const run = promisify(execFile);

/** Function images FROM the runtime images with the code baked in, as the builder will make them. */
export const DOCKERFILE = (lang: Lang, handler = "index") =>
  `FROM kumo/runtime-${lang}:latest\nCOPY . /var/task/\nENV KUMO_CODE_DIR=/var/task KUMO_HANDLER=${handler}\n`;

export interface PlaneOptions {
  autoscalerEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  /** Start this many in-process autoscaler nodes (default 1). */
  autoscalers?: number;
  langs?: Lang[];
  /**
   * Leave KUMO_BUS_NAMESPACE unset, so the services namespace NATS by the installation identity
   * they keep in the database, as an installation does by default.
   */
  installationIdentity?: boolean;
  /** Start the gateway's isolate host too, for edge functions next to the container ones. */
  edge?: boolean;
}

export interface DeployedFunction {
  name: string;
  functionId: string;
  versionId: string;
  version: number;
  image: string;
}

/**
 * The whole invocation plane for one test file: a gateway (inject) with its own bus namespace and
 * schema, in-process autoscaler nodes sharing its database, and function images built once.
 * Every container carries dev.kumo.test=1 and this file's node ids; close() removes them all.
 */
export class Plane {
  /** The bus namespace: chosen here, or read from the gateway with `installationIdentity`. */
  namespace = `t${randomBytes(5).toString("hex")}`;
  readonly masterKey = randomBytes(32).toString("hex");
  readonly harness = new RuntimeHarness();
  readonly dataDir = `/tmp/kumo-plane-${this.namespace}`;
  gw!: TestGateway;
  tenant!: { name: string; id: string; key: string };
  nodes: { id: string; autoscaler: Autoscaler }[] = [];
  nc!: NatsConnection;
  readonly #options: PlaneOptions;
  #nodeCounter = 0;

  constructor(options: PlaneOptions = {}) {
    this.#options = options;
  }

  async start(): Promise<this> {
    await ensureRuntimeImages(this.#options.langs ?? ["node"]);
    const identity = this.#options.installationIdentity === true;
    this.gw = await startTestGateway({
      ...(this.#options.edge ? { edge: true } : {}),
      env: {
        ...(identity ? {} : { KUMO_BUS_NAMESPACE: this.namespace }),
        KUMO_MASTER_KEY: this.masterKey,
        ...this.#options.gatewayEnv,
      },
    });
    if (identity) this.namespace = this.gw.gateway.namespace;
    this.nc = await connectBus({ url: TEST_NATS_URL, name: "kumo-plane-test" });
    this.tenant = await this.gw.tenant();
    for (let i = 0; i < (this.#options.autoscalers ?? 1); i++) await this.addNode();
    return this;
  }

  nodeId(): string {
    return `${this.namespace}-n${++this.#nodeCounter}`;
  }

  /** Environment for an autoscaler of this plane (in-process or a child process). */
  autoscalerEnv(nodeId: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...testAutoscalerEnv({
        nodeId,
        namespace: this.#options.installationIdentity ? undefined : this.namespace,
        schema: this.gw.schema,
        masterKey: this.masterKey,
        dataDir: this.dataDir,
      }),
      KUMO_ASYNC_ACK_WAIT: "3s",
      ...this.#options.autoscalerEnv,
      ...extra,
    };
  }

  async addNode(extra: Record<string, string> = {}): Promise<{ id: string; autoscaler: Autoscaler }> {
    const id = this.nodeId();
    const autoscaler = await startAutoscaler(loadAutoscalerConfig(this.autoscalerEnv(id, extra)), {
      database: this.gw.gateway.database,
      log: () => {},
    });
    const node = { id, autoscaler };
    this.nodes.push(node);
    return node;
  }

  /** Builds a function image once and registers version 1 (or the next) as "live". */
  async deploy(
    name: string,
    lang: Lang,
    files: Record<string, string | Buffer>,
    config: Partial<FunctionConfigInput> = {},
    handler = "index",
  ): Promise<DeployedFunction> {
    const image = await this.harness.buildImage({ Dockerfile: DOCKERFILE(lang, handler), ...files });
    return this.register(name, lang, image, config);
  }

  async register(
    name: string,
    lang: Lang | "container",
    image: string,
    config: Partial<FunctionConfigInput> = {},
  ): Promise<DeployedFunction> {
    const store = new PlatformStore(this.gw.gateway.database.db).tenant(this.tenant.id);
    const parsed = functionConfigSchema.parse({ runtime: lang, ...config });
    const fn =
      (await store.functions.byName(name)) ??
      (await store.functions.create({ name, runtime: lang, config: parsed }));
    const version = await store.versions.create({
      functionId: fn.id,
      runtime: lang,
      sourceDigest: image,
      artifact: image,
      config: parsed,
      deploymentId: null,
      createdBy: null,
    });
    await store.aliases.put(fn.id, "live", [{ version: version.version, weight: 100 }], null);
    this.gw.gateway.context.changed(this.tenant.id, fn.id);
    return { name, functionId: fn.id, versionId: version.id, version: version.version, image };
  }

  invoke(
    name: string,
    options: {
      body?: string | Buffer;
      headers?: Record<string, string>;
      path?: string;
      method?: string;
    } = {},
  ) {
    return this.gw.call(options.method ?? "POST", `/fn/${this.tenant.name}/${name}${options.path ?? "/"}`, {
      ...(options.body === undefined ? {} : { body: options.body }),
      headers: options.headers ?? {},
    });
  }

  invokeAsync(name: string, body: unknown, headers: Record<string, string> = {}) {
    return this.gw.call("POST", `/v1/functions/${name}/invoke`, {
      key: this.tenant.key,
      body,
      headers: { "kumo-invocation-type": "async", ...headers },
    });
  }

  /** Containers of this plane's nodes (running or not), by label. */
  async containers(
    filter: Record<string, string> = {},
  ): Promise<{ id: string; labels: Record<string, string>; state: string }[]> {
    const { stdout } = await run("docker", [
      "ps",
      "-a",
      "--filter",
      `label=${TEST_LABEL}`,
      ...Object.entries(filter).flatMap(([k, v]) => ["--filter", `label=${k}=${v}`]),
      "--format",
      "{{.ID}}\t{{.State}}\t{{.Labels}}",
    ]);
    return stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((line) => {
        const [id = "", state = "", labels = ""] = line.split("\t");
        return {
          id,
          state,
          labels: Object.fromEntries(labels.split(",").map((kv) => kv.split("=") as [string, string])),
        };
      })
      .filter((c) => c.labels["dev.kumo.node"]?.startsWith(this.namespace));
  }

  async close(): Promise<void> {
    for (const node of this.nodes) await node.autoscaler.stop().catch(() => {});
    await this.gw?.close().catch(() => {});
    const leftovers = await this.containers().catch(() => []);
    if (leftovers.length > 0)
      await run("docker", ["rm", "-f", ...leftovers.map((c) => c.id)]).catch(() => {});
    if (this.nc) {
      const jsm = await jetstreamManager(this.nc).catch(() => undefined);
      if (jsm) await deleteNamespaceStreams(jsm, this.namespace);
      await this.nc.close();
    }
    await this.harness.cleanup();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An autoscaler of a test plane: the test database's schema, the plane's bus namespace (none: the
 * installation identity), test-labelled containers and short record and retry timers.
 */
export function testAutoscalerEnv(options: {
  nodeId: string;
  namespace: string | undefined;
  schema: string;
  masterKey: string;
  dataDir: string;
}): Record<string, string> {
  return {
    KUMO_NODE_ID: options.nodeId,
    KUMO_AUTOSCALER_PORT: "0",
    NATS_URL: TEST_NATS_URL,
    ...(options.namespace === undefined ? {} : { KUMO_BUS_NAMESPACE: options.namespace }),
    DATABASE_URL: TEST_DATABASE_URL,
    KUMO_DATABASE_SCHEMA: options.schema,
    KUMO_MASTER_KEY: options.masterKey,
    KUMO_DATA_DIR: options.dataDir,
    KUMO_CONTAINER_LABELS: TEST_LABEL,
    KUMO_RECORD_FLUSH: "20ms",
    KUMO_ASYNC_RETRY_BASE: "100ms",
  };
}
