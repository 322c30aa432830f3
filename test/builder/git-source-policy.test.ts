import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitHttpServer, loopbackGitUrls, serveGitHttp } from "../support/git-http-server.ts";
import { type BuildKit, gitRepo, run, startBuildKit } from "./builder-kit.ts";

/**
 * Git sources through the public API against a real builder with its default address policy: the
 * builder must not become a way into loopback or private services (an internal git server, the
 * gateway's own git remote), nor a port scanner through its error texts. Only 127.0.0.1 is contacted.
 */
let kit: BuildKit;
let gatewayUrl: string;
let internal: GitHttpServer;

beforeAll(async () => {
  kit = await startBuildKit();
  gatewayUrl = await kit.tg.gateway.app.listen({ host: "127.0.0.1", port: 0 });
  internal = await serveGitHttp({
    "index.mjs": "export default { fetch() { return new Response('internal source'); } };\n",
  });
}, 300_000);

afterAll(async () => {
  await internal?.close();
  await kit?.close();
});

/** POSTs a git deployment; returns the status and the error message with the echoed URL cut off. */
async function deployGit(name: string, git: string, ref = "main") {
  const res = await kit.tg.call("POST", `/v1/functions/${name}/deployments`, {
    key: kit.tenant.key,
    body: { source: { git, ref } },
  });
  const message = String(res.json?.error?.message ?? res.body);
  return {
    status: res.status,
    code: res.json?.error?.code,
    message,
    reason: message.replace(/^.*?could not fetch \S+ /, ""),
  };
}

describe("git source address policy", () => {
  it("git sources - every spelling of a loopback git server is refused by default, the server never asked", async () => {
    await kit.ensureFunction("ssrf", "node");
    const { port } = internal;
    const reasons = new Set<string>();
    for (const url of loopbackGitUrls(port)) {
      const res = await deployGit("ssrf", url);
      expect(res.status, `${url}: ${res.message}`).toBe(400);
      expect(res.code).toBe("FN_006");
      expect(res.message).toMatch(/could not fetch/);
      reasons.add(res.reason);
    }
    expect([...reasons]).toHaveLength(1);
    expect(internal.requests).toEqual([]);
    const versions = await kit.tg.call("GET", "/v1/functions/ssrf/versions", { key: kit.tenant.key });
    expect(versions.json.items).toEqual([]);
  });

  it("git sources - an API key in a URL of the gateway's own git remote is refused, and the key is not echoed", async () => {
    await kit.ensureFunction("own-remote", "node");
    // A branch other than main is stored by the remote without a deployment: a source the builder could clone.
    const repo = await gitRepo(kit.tempDir(), {
      "index.mjs": "export default { fetch() { return new Response('x'); } };\n",
    });
    const host = gatewayUrl.replace("http://", "");
    const path = `/git/${kit.tenant.name}/own-remote.git`;
    await run(
      "git",
      ["-C", repo, "push", "-q", `http://kumo:${kit.tenant.key}@${host}${path}`, "HEAD:refs/heads/src"],
      {
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
      },
    );
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const reasons = new Set<string>();
    for (const url of [
      `http://${kit.tenant.key}@${host}${path}`,
      `http://kumo:${kit.tenant.key}@${host}${path}`,
      `http://127.0.0.1:${closedPort}/repo.git`,
      `http://127.0.0.1:${internal.port}/repo.git`,
    ]) {
      const res = await deployGit("own-remote", url, "src");
      expect(res.status, `${url}: ${res.message}`).toBe(400);
      expect(res.code).toBe("FN_006");
      expect(res.message).not.toContain(kit.tenant.key);
      reasons.add(res.reason);
    }
    // The gateway's remote, a closed port and a git server that is not the gateway read the same.
    expect([...reasons]).toHaveLength(1);
    const versions = await kit.tg.call("GET", "/v1/functions/own-remote/versions", { key: kit.tenant.key });
    expect(versions.json.items).toEqual([]);
  });
});
