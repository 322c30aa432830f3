import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { injectFetch } from "./support/inject-fetch.ts";
import { type KumoRun, type RunOptions, runKumo } from "./support/run-kumo.ts";

const answers = (text: string) =>
  `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;

/**
 * `kumo traffic`, `kumo routes` and `kumo domains` against the real gateway (PostgreSQL, NATS,
 * isolates) through inject. The rollout driver ticks every 50 ms; TXT lookups are answered from
 * `txtRecords`, never from real DNS.
 */
describe("kumo cli - rollouts, routes and domains against the gateway", () => {
  let t: TestGateway;
  let dir: string;
  let tenant: { name: string; key: string };
  const txtRecords = new Map<string, string[][]>();
  let run: (argv: string[], options?: RunOptions) => Promise<KumoRun>;

  beforeAll(async () => {
    t = await startTestGateway({
      edge: true,
      env: { KUMO_ROLLOUT_TICK: "50ms" },
      resolveTxt: async (name) => {
        const records = txtRecords.get(name);
        if (records) return records;
        throw Object.assign(new Error(`no TXT record ${name}`), { code: "ENODATA" });
      },
    });
    dir = await mkdtemp(join(tmpdir(), "kumo-cli-traffic-"));
    tenant = await t.tenant();
    const fetch = injectFetch(t.gateway.app);
    const base = {
      KUMO_URL: "http://127.0.0.1:8080",
      KUMO_API_KEY: tenant.key,
      KUMO_CONFIG: join(dir, "config.json"),
    };
    run = (argv, options = {}) =>
      runKumo(argv, { cwd: dir, fetch, now: Date.now(), ...options, env: { ...base, ...options.env } });
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Deploys `source` as the next version of `hello`; it becomes live. */
  async function deploy(source: string): Promise<void> {
    await writeFile(join(dir, "hello", "index.js"), source);
    const result = await run(["deploy", "hello"]);
    expect(result.code, result.stderr).toBe(0);
  }

  const invoke = () => t.call("GET", `/fn/${tenant.name}/hello/`);

  /** Runs the CLI while sending requests to hello, so that rollout steps have traffic to be judged by. */
  async function withTraffic(argv: string[]): Promise<KumoRun> {
    let done = false;
    const result = run(argv).finally(() => {
      done = true;
    });
    while (!done) {
      await Promise.all(Array.from({ length: 5 }, invoke));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return result;
  }

  it("traffic - shift --wait completes, a failing version is rolled back with exit 1, cancel restores", async () => {
    expect((await run(["init", "hello", "--runtime", "edge"])).code).toBe(0);
    await deploy(answers("one"));
    await deploy(answers("two"));
    expect((await run(["rollback", "hello", "--to", "1"])).code).toBe(0);

    const shift = ["traffic", "shift", "hello", "--to", "v2", "--steps", "50,100", "--interval", "200ms"];
    const completed = await withTraffic([...shift, "--min-requests", "5", "--wait"]);
    expect(completed.code, completed.stderr).toBe(0);
    expect(completed.stdout).toMatch(/^Rollout \S+ completed: hello@live serves v2\.\n$/);
    expect(completed.stderr).toMatch(
      /^Rollout \S+ started: hello@live sends 50% of requests to v2 \(v1 keeps 50%\)\./,
    );
    expect(completed.stderr).toContain("hello@live: v2 at 50% (step 1 of 2)...");
    for (let i = 0; i < 5; i++) expect((await invoke()).body).toBe("two");

    const list = await run(["traffic", "status", "hello", "--json"]);
    const [first] = JSON.parse(list.stdout).items;
    expect(first).toMatchObject({ from: 1, to: 2, status: "completed", weight: 100, lastErrorRate: 0 });
    const shown = await run(["traffic", "status", "hello", first.id]);
    expect(shown.stdout).toContain("Status:     completed\n");
    const late = await run(["traffic", "cancel", "hello", first.id]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain("only a running rollout can be cancelled");

    // v3 throws on every request: the first step's error rate sends live back to v2.
    await deploy("export default { fetch() { throw new Error('boom') } }");
    expect((await run(["rollback", "hello", "--to", "2"])).code).toBe(0);
    const failing = ["traffic", "shift", "hello", "--to", "3", "--steps", "50,100", "--interval", "200ms"];
    const rolledBack = await withTraffic([
      ...failing,
      "--max-error-rate",
      "10%",
      "--min-requests",
      "5",
      "--wait",
    ]);
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.stdout).toBe("");
    expect(rolledBack.stderr).toMatch(
      /error FN_005: rollout \S+ rolled back: v3 failed 100% of \d+ requests; hello@live serves v2 again\n/,
    );
    for (let i = 0; i < 5; i++) expect((await invoke()).body).toBe("two");

    // Without enough traffic the rollout stays on its first step until cancelled.
    const waiting = await run([...failing, "--steps", "20,100", "--min-requests", "1000", "--json"]);
    expect(waiting.code, waiting.stderr).toBe(0);
    const { id } = JSON.parse(waiting.stdout);
    const cancelled = await run(["traffic", "cancel", "hello", id]);
    expect(cancelled.stdout).toBe(`Cancelled rollout ${id}: hello@live serves v2 again.\n`);
    expect((await invoke()).body).toBe("two");

    const missing = await run(["traffic", "status", "hello", "ro_nope"]);
    expect(missing.code).toBe(4);
  }, 90_000);

  it("routes and domains - add, list, verify with a TXT record, route the domain, delete", async () => {
    const created = await t.call("POST", "/v1/functions", {
      key: tenant.key,
      body: { name: "site", runtime: "edge" },
    });
    expect(created.status, created.body).toBe(201);
    const deployed = await t.call("POST", "/v1/functions/site/deployments", {
      key: tenant.key,
      body: { files: { "index.ts": answers("site") } },
    });
    expect(deployed.json?.status, deployed.body).toBe("succeeded");

    const added = await run(["routes", "add", "get", "/users/:id/*", "site@live"]);
    expect(added.code, added.stderr).toBe(0);
    const id = /^Added route (\S+): GET \/users\/:id\/\* → site@live\n$/.exec(added.stdout)?.[1];
    expect(id).toBeDefined();
    const routed = await t.call("GET", `/r/${tenant.name}/users/7/profile`);
    expect(routed.status, routed.body).toBe(200);
    expect(routed.body).toBe("site");

    const list = await run(["routes"]);
    expect(list.stdout.split("\n")).toEqual([
      expect.stringMatching(/^METHOD +HOST +PATH +FUNCTION +ID$/),
      expect.stringMatching(new RegExp(`^GET +- +/users/:id/\\* +site@live +${id}$`)),
      "",
    ]);
    const conflict = await run(["routes", "add", "GET", "/users/:uid/*", "site"]);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toContain(`conflicts with route ${id}`);
    expect((await run(["routes", "add", "GET", "/x", "ghost"])).code).toBe(1);

    const hostname = "api.cli-test.example.com";
    const unverifiedHost = await run(["routes", "add", "GET", "/*", "site", "--host", hostname]);
    expect(unverifiedHost.code).toBe(1);
    expect(unverifiedHost.stderr).toContain(`host ${hostname} is not a verified domain`);

    const claimed = await run(["domains", "add", hostname]);
    expect(claimed.code, claimed.stderr).toBe(0);
    const value = /Value: (kumo-verify=\S+)\n/.exec(claimed.stdout)?.[1] ?? "";
    expect(value).not.toBe("");
    expect(claimed.stdout).toContain(`Name:  _kumo-challenge.${hostname}\n`);
    expect(claimed.stdout).toContain(`Then, once it has propagated: kumo domains verify ${hostname}\n`);
    const pending = await run(["domains"]);
    expect(pending.stdout).toMatch(new RegExp(`^${hostname.replaceAll(".", "\\.")} +pending `, "m"));
    expect(pending.stderr).toContain(`publish TXT _kumo-challenge.${hostname} = "${value}"`);

    const notYet = await run(["domains", "verify", hostname]);
    expect(notYet.code).toBe(1);
    expect(notYet.stderr).toContain(
      `error FN_006: no TXT record _kumo-challenge.${hostname} with the value "${value}"`,
    );
    txtRecords.set(`_kumo-challenge.${hostname}`, [[value]]);
    const verified = await run(["domains", "verify", hostname, "--json"]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ hostname, status: "verified", verifiedBy: "dns" });

    const onHost = await run(["routes", "add", "ANY", "/*", "site", "--host", hostname]);
    expect(onHost.code, onHost.stderr).toBe(0);
    expect(onHost.stdout).toContain(`ANY /* on ${hostname} → site`);
    const viaDomain = await t.call("GET", "/anything", { headers: { host: hostname } });
    expect(viaDomain.body).toBe("site");
    expect(JSON.parse((await run(["routes", "--json"])).stdout).items).toHaveLength(2);

    // Releasing the domain takes its route with it.
    expect((await run(["domains", "delete", hostname])).code).toBe(0);
    expect(JSON.parse((await run(["domains", "--json"])).stdout).items).toEqual([]);
    const remaining = JSON.parse((await run(["routes", "--json"])).stdout).items;
    expect(remaining.map((r: { id: string }) => r.id)).toEqual([id]);

    const deleted = await run(["routes", "delete", id ?? ""]);
    expect(deleted.stdout).toBe(`Deleted route ${id}.\n`);
    expect((await run(["routes"])).stdout).toBe("No routes yet: kumo routes add GET /path <fn>\n");
    expect((await run(["routes", "delete", id ?? ""])).code).toBe(4);
    expect((await run(["domains", "delete", hostname])).code).toBe(4);
  }, 20_000);
});
