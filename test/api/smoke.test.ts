import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

describe("gateway smoke", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("edge function - create, deploy, invoke, record", async () => {
    const tenant = await t.tenant();
    const created = await t.call("POST", "/v1/functions", {
      key: tenant.key,
      body: { name: "hello", runtime: "edge" },
    });
    expect(created.status).toBe(201);
    const dep = await t.call("POST", "/v1/functions/hello/deployments", {
      key: tenant.key,
      body: {
        files: {
          "index.ts":
            "export default { fetch(req: Request, env: any) { return new Response('hi ' + env.GREETING + ' ' + new URL(req.url).pathname) } }",
        },
      },
    });
    expect(dep.status, dep.body).toBe(202);
    expect(dep.json.status).toBe("succeeded");
    const env = await t.call("PUT", "/v1/functions/hello/env/GREETING", {
      key: tenant.key,
      body: { value: "there" },
    });
    expect(env.status).toBe(200);
    const res = await t.call("GET", `/fn/${tenant.name}/hello/a/b?x=1`);
    expect(res.status, res.body).toBe(200);
    expect(res.body).toBe("hi there /a/b");
    await t.gateway.flushRecords();
    const history = await t.call("GET", "/v1/functions/hello/invocations", { key: tenant.key });
    expect(history.json.items).toHaveLength(1);
    expect(history.json.items[0].status).toBe("succeeded");
  });

  it("edge function - a status that is not a final HTTP status is FN_004 over a socket, not a hang", async () => {
    const tenant = await t.tenant();
    await t.call("POST", "/v1/functions", { key: tenant.key, body: { name: "status", runtime: "edge" } });
    const handler = `export async function handler(event: any) {
      return { statusCode: JSON.parse(event.queryStringParameters.s), body: "x" };
    }`;
    const dep = await t.call("POST", "/v1/functions/status/deployments", {
      key: tenant.key,
      body: { files: { "index.ts": handler } },
    });
    expect(dep.json?.status, dep.body).toBe("succeeded");
    // Over a real socket: a 1xx written to the client leaves it waiting, which inject cannot show.
    const address = await t.gateway.app.listen({ port: 0, host: "127.0.0.1" });
    for (const status of [100, 101, 103, 199, 600, "1e3", -1, 200.5]) {
      const s = encodeURIComponent(JSON.stringify(status));
      const res = await fetch(`${address}/fn/${tenant.name}/status/?s=${s}`, {
        signal: AbortSignal.timeout(3000),
      });
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, error.code], String(status)).toEqual([500, "FN_004"]);
      expect(error.message).toContain(`statusCode ${JSON.stringify(status)} `);
    }
  });
});
