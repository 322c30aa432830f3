import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { injectFetch } from "./support/inject-fetch.ts";
import { type RunOptions, runKumo } from "./support/run-kumo.ts";

/** The CLI against the real gateway (real PostgreSQL, NATS and isolate host), through inject. */
describe("kumo cli - against the gateway", () => {
  let t: TestGateway;
  let dir: string;
  let run: (argv: string[], options?: RunOptions) => ReturnType<typeof runKumo>;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    dir = await mkdtemp(join(tmpdir(), "kumo-cli-e2e-"));
    const fetch = injectFetch(t.gateway.app);
    const base = { KUMO_URL: "http://127.0.0.1:8080", KUMO_CONFIG: join(dir, "config.json") };
    run = (argv, options = {}) =>
      runKumo(argv, { cwd: dir, fetch, now: Date.now(), ...options, env: { ...base, ...options.env } });
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("cli e2e - tenant, login, init, deploy, invoke, env, versions, rollback, errors", async () => {
    const tenantName = `cli-${t.schema.slice(2, 10)}`;
    const created = await run(["tenants", "create", tenantName, "--key", t.adminKey, "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const tenantKey: string = JSON.parse(created.stdout).apiKey.key;

    const login = await run(["login", "--key", tenantKey]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain(`as admin of tenant ${tenantName}`);

    expect((await run(["init", "hello", "--runtime", "edge"])).code).toBe(0);
    const deploy = await run(["deploy", "hello"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(deploy.stdout).toMatch(/^Deployed hello v1 \(new function\)\nURL: .*\/fn\/.*\/hello\/\n$/);
    expect(deploy.stderr).toContain("version 1 is live");

    const invoke = await run(["invoke", "hello", "--json"]);
    expect(invoke.code, invoke.stderr).toBe(0);
    expect(JSON.parse(invoke.stdout)).toMatchObject({
      status: 200,
      body: { message: "Hello, world!", method: "POST", path: "/" },
    });
    const viaPath = await run(["invoke", "hello", "-X", "GET", "--path", "/greet?name=ann"]);
    expect(viaPath.stdout).toBe('{"message":"Hello, ann!","method":"GET","path":"/greet"}');

    await writeFile(
      join(dir, "hello", "index.js"),
      "export default { fetch(r, env) { return new Response('v2 ' + env.GREETING) } }",
    );
    expect((await run(["env", "hello", "set", "GREETING=hey"])).code).toBe(0);
    const second = await run(["deploy", "hello", "--json"]);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ name: "hello", version: 2, created: false });
    expect((await run(["invoke", "hello"])).stdout).toBe("v2 hey");

    const versions = await run(["versions", "hello"]);
    expect(versions.stdout).toMatch(/^\* {2}v2 .* live\n {3}v1 /m);
    const rollback = await run(["rollback", "hello"]);
    expect(rollback.stdout).toBe("Rolled back hello: live now serves v1 (was v2).\n");
    // v1 is the init template, which greets with the function's GREETING (env is the function's, not a version's).
    expect(JSON.parse((await run(["invoke", "hello", "--json"])).stdout).body.message).toBe("hey, world!");
    expect((await run(["alias", "set", "hello", "live", "v2"])).code).toBe(0);
    expect((await run(["invoke", "hello@v1"])).stdout).toContain("hey, world!");

    await t.gateway.flushRecords();
    const history = await run(["invocations", "hello", "--json"]);
    expect(JSON.parse(history.stdout).items.length).toBeGreaterThanOrEqual(4);

    const viewer = await t.key(tenantName, tenantKey, "viewer");
    const denied = await run(["deploy", "hello"], { env: { KUMO_API_KEY: viewer.key } });
    expect(denied.code).toBe(3);
    expect(denied.stderr).toContain("error FN_009");

    const invalid = await run(["alias", "set", "hello", "live", "v9"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error FN_006: version 9 of "hello" does not exist/);

    expect((await run(["functions", "delete", "hello"])).code).toBe(0);
    const gone = await run(["invoke", "hello"]);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain("error FN_001");
  });
});
