import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRuntimeImages, RuntimeHarness } from "../runtimes/runtime-harness.ts";
import { type BuildKit, gitRepo, run, startBuildKit, writeTree } from "./builder-kit.ts";
import { SOURCES } from "./sources.ts";

/**
 * End to end: source (upload, git URL over file://, git push to the gateway) -> builder (gRPC) ->
 * image -> hardened container -> runtime protocol over the unix socket. Real Docker, PostgreSQL, NATS.
 */
const RUNTIMES = ["node", "bun", "deno", "python", "go", "container"] as const;

let kit: BuildKit;
let harness: RuntimeHarness;
let gatewayUrl: string;

beforeAll(async () => {
  await ensureRuntimeImages(["node", "bun", "deno", "python", "go"]);
  kit = await startBuildKit();
  harness = new RuntimeHarness();
  gatewayUrl = await kit.tg.gateway.app.listen({ host: "127.0.0.1", port: 0 });
}, 300_000);

afterAll(async () => {
  await harness?.cleanup();
  await kit?.close();
});

async function invoke(image: string): Promise<string> {
  const fn = await harness.start(image);
  const res = await fn.request({ method: "GET", path: "/invoke/" });
  expect(res.status).toBe(200);
  return res.body.toString("utf8");
}

async function artifactOf(
  name: string,
  version: number | null,
): Promise<{ artifact: string; codeArtifact: string | null }> {
  const res = await kit.tg.call("GET", `/v1/functions/${name}/versions/${version}`, { key: kit.tenant.key });
  expect(res.status).toBe(200);
  return res.json;
}

async function push(
  dir: string,
  name: string,
  key = kit.tenant.key,
): Promise<{ code: number; output: string }> {
  const url = gatewayUrl.replace("http://", `http://kumo:${key}@`);
  try {
    const { stderr } = await run(
      "git",
      ["-C", dir, "push", "--porcelain", `${url}/git/${kit.tenant.name}/${name}.git`, "HEAD:main"],
      {
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
      },
    );
    return { code: 0, output: stderr };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: e.code ?? 1, output: e.stderr ?? String(error) };
  }
}

describe("builder end to end", () => {
  it.each(RUNTIMES)(
    "builder - %s: hello-world and dependency-using functions build from an upload, a git URL and a git push",
    async (runtime) => {
      const src = SOURCES[runtime];
      // Upload: hello world.
      const hello = await kit.deploy(`hello-${runtime}`, runtime, src.hello);
      expect(hello.error, hello.log).toBeNull();
      expect(hello.status).toBe("succeeded");
      const helloVersion = await artifactOf(`hello-${runtime}`, hello.version);
      expect(helloVersion.artifact).toMatch(/^kumo\/fn:[0-9a-f]{40}$/);
      expect(await invoke(helloVersion.artifact)).toContain(src.helloSays);

      // Upload: a function with a real dependency installed at build time.
      const name = `deps-${runtime}`;
      const deps = await kit.deploy(name, runtime, src.deps);
      expect(deps.error, deps.log).toBeNull();
      const depsVersion = await artifactOf(name, deps.version);
      expect(await invoke(depsVersion.artifact)).toContain(src.depsSays);
      if (runtime === "container") expect(depsVersion.codeArtifact).toBeNull();
      else expect(depsVersion.codeArtifact).toMatch(/^sha256:[0-9a-f]{64}$/);

      // Git URL (a local repository over file://): the same tree is the same image, not rebuilt.
      const repo = await gitRepo(kit.tempDir(), src.deps);
      const viaGit = await kit.tg.call("POST", `/v1/functions/${name}/deployments`, {
        key: kit.tenant.key,
        body: { source: { git: `file://${repo}`, ref: "main" } },
      });
      expect(viaGit.status, viaGit.body).toBe(202);
      const gitDone = await kit.waitFor(name, viaGit.json.id);
      expect(gitDone.error, gitDone.log).toBeNull();
      expect(gitDone.log).toMatch(/at commit [0-9a-f]{40}/);
      expect(gitDone.log).toContain("nothing to build");
      expect((await artifactOf(name, gitDone.version)).artifact).toBe(depsVersion.artifact);

      // git push of a code-only change: rebuilt, deployed, and the push output shows the log and the URL.
      writeTree(repo, src.edited);
      await run("git", [
        "-C",
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@kumo.invalid",
        "commit",
        "-qam",
        "v2",
      ]);
      const pushed = await push(repo, name);
      expect(pushed.code, pushed.output).toBe(0);
      expect(pushed.output).toMatch(/remote: kumo: deploying [0-9a-f]{12} \(main\)/);
      expect(pushed.output).toContain("remote: Step ");
      expect(pushed.output).toMatch(/remote: kumo: deployment dep_\w+ succeeded: version \d+ is live/);
      expect(pushed.output).toContain(`/fn/${kit.tenant.name}/${name}/`);
      const live = await kit.tg.call("GET", `/v1/functions/${name}/versions`, { key: kit.tenant.key });
      const newest = live.json.items[0];
      expect(newest.artifact).not.toBe(depsVersion.artifact);
      expect(await invoke(newest.artifact)).toContain(src.editedSays);
    },
    180_000,
  );
});
