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
});
