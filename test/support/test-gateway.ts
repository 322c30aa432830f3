import { randomBytes } from "node:crypto";
import { connectBus, deleteNamespaceStreams, jetstreamManager, type NatsConnection } from "@kumo/bus";
import type { CapacityProvider } from "@kumo/core";
import { openDatabase } from "@kumo/db";
import { bundleEdgeFunction, createEdgeProvider } from "@kumo/edge";
import { type Gateway, type ImageBuildClient, loadGatewayConfig, start } from "@kumo/gateway";

export const TEST_DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const TEST_NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

export interface CallOptions {
  key?: string | undefined;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected freely
  json: any;
}

export interface TestGateway {
  gateway: Gateway;
  /** The gateway's NATS connection. */
  nats: NatsConnection;
  adminKey: string;
  schema: string;
  call(method: string, url: string, options?: CallOptions): Promise<CallResult>;
  /** Creates a tenant and returns its name and admin key. */
  tenant(name?: string): Promise<{ name: string; id: string; key: string }>;
  /** Issues a key with a role in a tenant (using the tenant's admin key). */
  key(tenantName: string, adminKey: string, role: string): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Start the real isolate host (needed to invoke edge functions). */
  edge?: boolean;
  providers?: CapacityProvider[];
  /** Extra gateway environment (e.g. KUMO_ROLLOUT_TICK, KUMO_VERSION_RETENTION). */
  env?: Record<string, string>;
  /** TXT lookups for domain verification. Tests never query real DNS: without one, lookups fail. */
  resolveTxt?: (name: string) => Promise<string[][]>;
  /** Container builds (a BuildClient to a test builder); none unless given. */
  builder?: ImageBuildClient;
  /** Listen on a free loopback port too (a scraper or a browser needs one); inject() works either way. */
  listen?: boolean;
  /** Another NATS (a cluster's comma-separated URLs); the machine's by default. */
  natsUrl?: string;
  /** Another PostgreSQL (a test's private server); the test database by default. */
  databaseUrl?: string;
}

/**
 * A gateway on a fresh PostgreSQL schema of the real test database and the real NATS, driven
 * through fastify's inject (no port). Each test file gets its own schema, so files run in parallel.
 */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const database = await openDatabase({
    url: options.databaseUrl ?? TEST_DATABASE_URL,
    schema,
    maxConnections: 5,
  });
  const nats: NatsConnection = await connectBus({ url: options.natsUrl ?? TEST_NATS_URL, name: "kumo-test" });
  const adminKey = `kumo_test_admin_${randomBytes(16).toString("hex")}`;
  const config = loadGatewayConfig({
    KUMO_ADMIN_KEY: adminKey,
    KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
    KUMO_DATA_DIR: `/tmp/kumo-test-${schema}`,
    KUMO_LOG_LEVEL: "silent",
    KUMO_PORT: "0",
    KUMO_HOST: "127.0.0.1",
    KUMO_RECORD_FLUSH: "20ms",
    ...options.env,
  });
  const providers =
    options.providers ??
    (options.edge ? [await createEdgeProvider({ hosts: 1, fetch: { allowPrivateAddresses: false } })] : []);
  const gateway = await start(config, {
    database,
    nats,
    providers,
    bundleEdge: bundleEdgeFunction,
    builder: options.builder ?? null,
    listen: options.listen === true,
    resolveTxt:
      options.resolveTxt ??
      (async (name) => {
        throw Object.assign(new Error(`tests do not query DNS (${name}); pass resolveTxt`), {
          code: "ENOTFOUND",
        });
      }),
  });

  const call = async (method: string, url: string, opts: CallOptions = {}): Promise<CallResult> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    let payload: string | Buffer | undefined;
    if (Buffer.isBuffer(opts.body) || typeof opts.body === "string") payload = opts.body;
    else if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await gateway.app.inject({
      method: method as "GET",
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    let json: unknown;
    try {
      json = JSON.parse(res.body);
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body: res.body, json };
  };

  let counter = 0;
  return {
    gateway,
    nats,
    adminKey,
    schema,
    call,
    async tenant(name) {
      const tenantName = name ?? `tenant-${schema.slice(2, 8)}-${++counter}`;
      const res = await call("POST", "/v1/tenants", { key: adminKey, body: { name: tenantName } });
      if (res.status !== 201) throw new Error(`creating tenant failed: ${res.status} ${res.body}`);
      return { name: tenantName, id: res.json.tenant.id, key: res.json.apiKey.key };
    },
    async key(tenantName, tenantAdminKey, role) {
      const res = await call("POST", `/v1/tenants/${tenantName}/api-keys`, {
        key: tenantAdminKey,
        body: { role },
      });
      if (res.status !== 201) throw new Error(`creating key failed: ${res.status} ${res.body}`);
      return { id: res.json.id, key: res.json.key };
    },
    async close() {
      await gateway.stop();
      for (const p of providers) await p.stop();
      // A gateway without KUMO_BUS_NAMESPACE made streams named by its installation identity.
      if (!options.env?.KUMO_BUS_NAMESPACE)
        await deleteNamespaceStreams(await jetstreamManager(nats), gateway.namespace);
      await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await database.close();
      await nats.close();
    },
  };
}
