import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuildKit, run, startBuildKit } from "./builder-kit.ts";
import { SOURCES } from "./sources.ts";

/** Failing builds, bad sources, secrets and the git remote's access rules, against a real builder. */
let kit: BuildKit;
let gatewayUrl: string;

beforeAll(async () => {
  kit = await startBuildKit();
  gatewayUrl = await kit.tg.gateway.app.listen({ host: "127.0.0.1", port: 0 });
}, 300_000);

afterAll(async () => {
  await kit?.close();
});

async function evilTar(name: string): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve) => p.on("end", () => resolve()));
  p.entry({ name }, "x");
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe("builder failures", () => {
  it("builder - a failing build fails the deployment with FN_005 and the log tail; the previous version keeps serving", async () => {
    const good = await kit.deploy("fails", "node", SOURCES.node.hello);
    expect(good.status, JSON.stringify(good)).toBe("succeeded");
    const broken = await kit.deploy("fails", "node", {
      "package.json": JSON.stringify({ name: "x", version: "1.0.0", dependencies: { ms: "999.0.0" } }),
      "index.mjs": "export default { fetch() { return new Response('never'); } };",
    });
    expect(broken.status).toBe("failed");
    expect(broken.error?.code).toBe("FN_005");
    expect(broken.error?.message).toMatch(/build failed/);
    expect(broken.error?.message).toMatch(/No matching version|ETARGET|notarget/i);
    expect(broken.log).toContain("error FN_005");
    const alias = await kit.tg.call("GET", "/v1/functions/fails/aliases", { key: kit.tenant.key });
    expect(alias.json.items[0].routing).toEqual([{ version: good.version, weight: 100 }]);

    const go = await kit.deploy("fails-go", "go", { "handler.go": "package function\n\nfunc Handle( {\n" });
    expect(go.status).toBe("failed");
    expect(go.error?.code).toBe("FN_005");
    expect(go.error?.message).toMatch(/handler\.go:\d+/);
  }, 120_000);

  it("builder - malformed archives and bad git sources are refused with FN_006 saying what is wrong", async () => {
    await kit.ensureFunction("bad-src", "node");
    const url = "/v1/functions/bad-src/deployments";
    const traversal = await kit.tg.call("POST", url, {
      key: kit.tenant.key,
      body: await evilTar("../escape.js"),
      headers: { "content-type": "application/x-tar" },
    });
    expect(traversal.status).toBe(400);
    expect(traversal.json.error).toMatchObject({
      code: "FN_006",
      message: expect.stringContaining("../escape.js"),
    });
    const garbage = await kit.tg.call("POST", url, {
      key: kit.tenant.key,
      body: gzipSync(Buffer.from("not a tar")),
      headers: { "content-type": "application/gzip" },
    });
    expect(garbage.status).toBe(400);
    expect(garbage.json.error.code).toBe("FN_006");
    const missing = await kit.tg.call("POST", url, {
      key: kit.tenant.key,
      body: { source: { git: `file://${kit.tempDir()}/nope`, ref: "main" } },
    });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/could not fetch/);
    const ssh = await kit.tg.call("POST", url, {
      key: kit.tenant.key,
      body: { source: { git: "ssh://host/x.git" } },
    });
    expect(ssh.status).toBe(400);
    expect(ssh.json.error.message).toMatch(/must use/);
    const noDockerfile = await kit.deploy("no-dockerfile", "container", {
      "kumo.json": '{"runtime":"container"}',
      "x.txt": "x",
    });
    expect(noDockerfile.error?.code).toBe("FN_005");
    expect(noDockerfile.error?.message).toMatch(/needs a Dockerfile/);
  }, 60_000);

  it("builder - a tenant secret never enters any image layer", async () => {
    const secret = `s3cret-${Date.now()}-value`;
    const put = await kit.tg.call("PUT", "/v1/secrets/API_TOKEN", {
      key: kit.tenant.key,
      body: { value: secret },
    });
    expect(put.status).toBeLessThan(300);
    const done = await kit.deploy("secretive", "python", {
      ...SOURCES.python.deps,
      "kumo.json": JSON.stringify({ runtime: "python", secrets: ["API_TOKEN"], env: { MODE: "x" } }),
    });
    expect(done.error, done.log).toBeNull();
    const version = await kit.tg.call("GET", `/v1/functions/secretive/versions/${done.version}`, {
      key: kit.tenant.key,
    });
    const image = version.json.artifact as string;
    // docker save: every layer tar and the image config, uncompressed.
    const saved = await run("docker", ["save", image], { encoding: "buffer", maxBuffer: 512 * 1024 * 1024 });
    expect(saved.stdout.length).toBeGreaterThan(1_000_000);
    expect(saved.stdout.includes(Buffer.from(secret))).toBe(false);
    const history = await run("docker", ["history", "--no-trunc", image]);
    expect(history.stdout).not.toContain(secret);
  }, 60_000);

  it("builder - following a deployment streams its build log and final status (SSE)", async () => {
    await kit.ensureFunction("followed", "node");
    const res = await kit.tg.call("POST", "/v1/functions/followed/deployments", {
      key: kit.tenant.key,
      body: { files: { "index.mjs": "export default { fetch() { return new Response('f'); } };" } },
    });
    expect(res.status).toBe(202);
    expect(res.json.status).toBe("queued");
    const follow = await kit.tg.call("GET", `/v1/functions/followed/deployments/${res.json.id}?follow=1`, {
      key: kit.tenant.key,
    });
    expect(follow.headers["content-type"]).toMatch(/text\/event-stream/);
    expect(follow.body).toMatch(/event: log\ndata: .*Step 1\//);
    expect(follow.body).toMatch(/event: status\ndata: .*"status":"succeeded"/);
  }, 60_000);

  it("builder - the git remote asks for a key, needs a developer role and hides other tenants", async () => {
    await kit.ensureFunction("guarded", "node");
    const refs = (key?: string, tenant = kit.tenant.name) =>
      fetch(`${gatewayUrl}/git/${tenant}/guarded.git/info/refs?service=git-receive-pack`, {
        headers: key ? { authorization: `Basic ${Buffer.from(`git:${key}`).toString("base64")}` } : {},
      });
    const anonymous = await refs();
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic/);
    const viewer = await kit.tg.key(kit.tenant.name, kit.tenant.key, "viewer");
    const denied = await refs(viewer.key);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("FN_009");
    const other = await kit.tg.tenant();
    const hidden = await refs(other.key, kit.tenant.name);
    expect(hidden.status).toBe(404);
    const ok = await refs(kit.tenant.key);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/x-git-receive-pack-advertisement");
    expect(Buffer.from(await ok.arrayBuffer()).toString()).toMatch(/^001f# service=git-receive-pack\n0000/);
  });

  it("builder - a restarted gateway fails deployments left building for longer than the build timeout", async () => {
    await kit.ensureFunction("stuck", "node");
    const fn = await kit.tg.gateway.context.platform.tenant(kit.tenant.id).functions.byName("stuck");
    const store = kit.tg.gateway.context.platform.tenant(kit.tenant.id);
    const dep = await store.deployments.create({
      functionId: fn?.id ?? "",
      sourceKind: "upload",
      createdBy: null,
    });
    await store.deployments.setStatus(dep.id, "building");
    const db = kit.tg.gateway.database.db;
    await db
      .updateTable("deployments")
      .set({ created_at: new Date(Date.now() - 3_600_000) } as never)
      .where("id", "=", dep.id)
      .execute();
    const failed = await kit.tg.gateway.context.platform.failInterruptedDeployments(
      600_000,
      "interrupted: test",
    );
    expect(failed).toBeGreaterThanOrEqual(1);
    const after = await store.deployments.get(fn?.id ?? "", dep.id);
    expect(after).toMatchObject({
      status: "failed",
      error_code: "FN_005",
      error_message: "interrupted: test",
    });
  });
});
