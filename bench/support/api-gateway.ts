import { randomBytes } from "node:crypto";
import { type DatabaseHandle, openDatabase } from "@kumo/db";
import { type Gateway, loadGatewayConfig, start } from "@kumo/gateway";

/** A management-API gateway for benchmarks that read the database: no NATS, no isolates, no port. */
export interface ApiGateway {
  gateway: Gateway;
  database: DatabaseHandle;
  adminKey: string;
  /** One API call through inject; throws on a status of 300 or more. */
  // biome-ignore lint/suspicious/noExplicitAny: benchmark responses are read freely
  call(url: string, key: string, method?: string, body?: unknown): Promise<any>;
  /** Stops the gateway and drops its schema. */
  close(): Promise<void>;
}

export async function startApiGateway(databaseUrl: string): Promise<ApiGateway> {
  const schema = `b_${randomBytes(6).toString("hex")}`;
  const database = await openDatabase({ url: databaseUrl, schema, maxConnections: 5 });
  const adminKey = `kumo_bench_admin_${randomBytes(16).toString("hex")}`;
  const gateway = await start(
    loadGatewayConfig({
      KUMO_ADMIN_KEY: adminKey,
      KUMO_MASTER_KEY: randomBytes(32).toString("hex"),
      KUMO_DATA_DIR: `/tmp/kumo-bench-${schema}`,
      KUMO_LOG_LEVEL: "silent",
      KUMO_PORT: "0",
    }),
    {
      database,
      nats: null,
      providers: [],
      bundleEdge: async () => {
        throw new Error("this benchmark deploys nothing");
      },
      builder: null,
      listen: false,
    },
  );
  return {
    gateway,
    database,
    adminKey,
    async call(url, key, method = "GET", body) {
      const res = await gateway.app.inject({
        method: method as "GET",
        url,
        headers: { authorization: `Bearer ${key}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { payload: JSON.stringify(body) } : {}),
      });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async close() {
      await gateway.stop();
      await database.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await database.close();
    },
  };
}
