import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { runCli } from "@kumo/cli";
import { FUNCTION_TEMPLATES } from "@kumo/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runKumo } from "./support/run-kumo.ts";

/**
 * `kumo test` and `kumo dev`: one function run on this machine without a platform, edge functions
 * in the real isolate host, node and python ones in their runtime shim on the host's interpreter.
 */
let root: string;
const env = { PATH: process.env.PATH ?? "" };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "kumo-local-"));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function writeFunction(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) await writeFile(join(dir, path), content);
  return dir;
}

/** What each template's sample must print when `kumo test` runs it. */
const SAMPLE_OUTPUT: Record<string, RegExp> = {
  webhook: /^\{"received":true,"type":"order.paid","id":"ord_1001"\}\n$/,
  "scheduled-export":
    /^hour,orders,revenue\n2026-01-05T09:00:00.000Z,19,237.50\n.*\n2026-01-05T11:00:00.000Z,21,262.50\n$/,
  "workflow-step": /"status": "approved"[\s\S]*"nextPath": "approve"/,
  "pii-mask": /"email":"a\*\*\*@example.com".*"password":"\[redacted\]"/,
  "lambda-api": /^\{"id":"2","name":"second item"\}\n$/,
};

describe("kumo test - one local invocation", () => {
  for (const template of FUNCTION_TEMPLATES) {
    it(`kumo test - the ${template.id} template's sample runs as \`kumo init\` suggests`, async () => {
      const init = await runKumo(["init", template.id, "--template", template.id], { cwd: root, env });
      expect(init.code, init.stderr).toBe(0);
      const suggested = init.stdout.match(/kumo test (.*)\n/)?.[1]?.split(" ") ?? [];
      expect(suggested[0]).toBe(template.id);
      const result = await runKumo(["test", ...suggested], { cwd: root, env });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(SAMPLE_OUTPUT[template.id] ?? /never/);
      expect(result.stderr).toMatch(/ {2}\[info\] /);
    });
  }

  it("kumo test - a step that throws prints the error branch and exits 1; --json carries logs", async () => {
    const dir = await writeFunction("thrower", {
      "kumo.json": JSON.stringify({ runtime: "edge" }),
      "index.ts": `export function step(input) { console.warn("checking", input.n); if (input.n > 1) throw new Error("too big"); return input.n; }`,
      "big.json": '{"n": 5}',
      "small.json": '{"n": 1}',
    });
    const failed = await runKumo(["test", dir, "--input", join(dir, "big.json")], { env });
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({
      output: null,
      nextPath: "error",
      error: { code: "FN_004" },
    });
    expect(failed.stderr).toContain("[warn] checking 5");
    expect(failed.stderr).toMatch(/error FN_004: the step failed \(nextPath "error"\): .*too big/);
    const ok = await runKumo(["test", dir, "--input", join(dir, "small.json"), "--json"], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      output: 1,
      nextPath: "default",
      logs: [{ level: "warn", message: "checking 1" }],
    });
  });

  it("kumo test - bad flags and files get a usage error that says what to fix", async () => {
    const dir = await writeFunction("plain", {
      "kumo.json": JSON.stringify({ runtime: "edge" }),
      "index.ts": "export default { fetch: () => new Response('ok') }",
      "broken.json": "{nope",
    });
    const none = await runKumo(["test", dir], { env });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("pass exactly one of --event FILE, --request FILE or --input FILE");
    const broken = await runKumo(["test", dir, "--event", join(dir, "broken.json")], { env });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain("broken.json is not valid JSON");
    const missing = await runKumo(["test", dir, "--request", join(dir, "absent.json")], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("absent.json (--request)");
    const go = await writeFunction("gofn", { "kumo.json": JSON.stringify({ runtime: "go" }) });
    const unsupported = await runKumo(["test", go, "--event", join(dir, "broken.json")], { env });
    expect(unsupported.code).toBe(2);
    expect(unsupported.stderr).toContain('runtime "go" does not run locally');
  });

  it("kumo test - a node function runs in the runtime shim, with kumo.json env and .env", async () => {
    const dir = await writeFunction("nodefn", {
      "kumo.json": JSON.stringify({ runtime: "node", env: { GREETING: "hi", LEVEL: "json" } }),
      ".env": "LEVEL=dotenv\n",
      "package.json": '{"type":"module"}',
      "index.js": `export async function handler(event, context) {
  console.log("event type", context.eventType);
  return { greeting: process.env.GREETING, level: process.env.LEVEL, got: event };
}`,
      "event.json": '{"id": 7}',
    });
    const result = await runKumo(
      ["test", dir, "--event", join(dir, "event.json"), "--type", "queue", "--json"],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 200,
      body: { greeting: "hi", level: "dotenv", got: { id: 7 } },
      logs: [{ level: "info", message: "event type queue" }],
    });
  });

  it("kumo test - a python step runs in the python shim", async () => {
    const dir = await writeFunction("pyfn", {
      "kumo.json": JSON.stringify({ runtime: "python" }),
      "main.py": `def step(input, context):
    print("run", context["runId"])
    return {"output": input["n"] + 1, "nextPath": "odd" if input["n"] % 2 == 0 else "even"}
`,
      "in.json": '{"n": 2}',
      "ctx.json": '{"runId": "r-42"}',
    });
    const result = await runKumo(
      ["test", dir, "--input", join(dir, "in.json"), "--context", join(dir, "ctx.json"), "--json"],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      output: 3,
      nextPath: "odd",
      logs: [{ message: "run r-42" }],
    });
  });

  it("kumo test - a runtime whose interpreter is absent names what to install", async () => {
    const dir = await writeFunction("bunfn", {
      "kumo.json": JSON.stringify({ runtime: "bun" }),
      "index.ts": "export default { fetch: () => new Response('ok') }",
      "e.json": "{}",
    });
    const result = await runKumo(["test", dir, "--event", join(dir, "e.json")], { env: { PATH: root } });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('runtime "bun" runs locally with `bun`, which is not on your PATH');
    expect(result.stderr).toContain("install Bun");
  });
});

/** What the dev tests' functions answer. */
interface Answer {
  v: number;
  who?: string;
  hits?: number;
  pid?: number;
}

async function getJson(url: string, init?: RequestInit): Promise<Answer> {
  return (await (await fetch(url, init)).json()) as Answer;
}

/** `kumo dev` in-process, stopped through its io signal as Ctrl-C stops it. */
async function startDev(dir: string) {
  const chunks: string[] = [];
  const abort = new AbortController();
  const sink = {
    write: (chunk: string | Uint8Array) => chunks.push(Buffer.from(chunk).toString("utf8")),
    isTTY: false,
  };
  const exited = runCli(["dev", dir, "--port", "0"], {
    stdout: sink,
    stderr: sink,
    stdin: Readable.from([]),
    env,
    cwd: root,
    fetch: globalThis.fetch,
    signal: abort.signal,
    now: Date.now,
  });
  const output = () => chunks.join("");
  /** Waits for `pattern` in what kumo dev printed after `from` (an earlier output().length). */
  const waitFor = async (pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpMatchArray> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const match = output().slice(from).match(pattern);
      if (match) return match;
      if (Date.now() > until) throw new Error(`no ${pattern} in kumo dev's output:\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const url = (await waitFor(/at (http:\/\/127\.0\.0\.1:\d+\/)/))[1] ?? "";
  return {
    url,
    output,
    waitFor,
    async stop() {
      abort.abort();
      return exited;
    },
  };
}

describe("kumo dev - local server with reload", () => {
  it("kumo dev - an edge function serves on 127.0.0.1, logs each request, reloads on save in a fresh isolate", async () => {
    const dir = await writeFunction("devedge", {
      "kumo.json": JSON.stringify({ runtime: "edge", env: { WHO: "json" } }),
      ".env": "WHO=dotenv\n",
      "index.ts": `let hits = 0;
export default { fetch(req, env) { hits++; console.log("hit", hits); return Response.json({ v: 1, who: env.WHO, hits }); } };`,
    });
    const dev = await startDev(dir);
    let mark = 0;
    try {
      expect(dev.output()).toContain("runtime: edge isolate");
      const first = await fetch(`${dev.url}a?x=1`);
      expect(await first.json()).toEqual({ v: 1, who: "dotenv", hits: 1 });
      expect((await getJson(dev.url)).hits).toBe(2);
      await dev.waitFor(/GET \/a\?x=1 200 [\d.]+ ms\n {2}\[info\] hit 1\n/);

      mark = dev.output().length;
      await writeFile(
        join(dir, "index.ts"),
        `let hits = 0;
export default { fetch(req, env) { hits++; return Response.json({ v: 2, who: env.WHO, hits }); } };`,
      );
      await dev.waitFor(/Reloaded \(index\.ts changed\)/, mark);
      // A fresh isolate: module state starts again.
      expect(await getJson(dev.url)).toEqual({ v: 2, who: "dotenv", hits: 1 });

      mark = dev.output().length;
      await writeFile(join(dir, "index.ts"), "export default { fetch( { ");
      await dev.waitFor(
        /Reload failed \(index\.ts changed\); the previous code keeps serving:\n {2}build failed: index\.ts:1:/,
        mark,
      );
      expect((await getJson(dev.url)).v).toBe(2);

      mark = dev.output().length;
      await writeFile(join(dir, ".env"), "WHO=changed\n");
      await writeFile(join(dir, "index.ts"), "export default { fetch: (r, env) => new Response(env.WHO) };");
      await dev.waitFor(/Reloaded \(.*index\.ts.*\)/, mark);
      expect(await (await fetch(dev.url)).text()).toBe("changed");
    } finally {
      expect(await dev.stop()).toBe(0);
    }
    expect(dev.output()).toContain("Stopped.");
  });

  it("kumo dev - a node function runs in the runtime shim and reloads in a new process", async () => {
    const dir = await writeFunction("devnode", {
      "kumo.json": JSON.stringify({ runtime: "node" }),
      "package.json": '{"type":"module"}',
      "index.js": `export default { fetch(req) { console.log("node", req.method); return Response.json({ v: 1, pid: process.pid }); } };`,
    });
    const dev = await startDev(dir);
    let mark = 0;
    try {
      expect(dev.output()).toContain("(runtime shim)");
      const first = await getJson(dev.url, { method: "POST", body: "x" });
      expect(first.v).toBe(1);
      await dev.waitFor(/POST \/ 200 [\d.]+ ms\n {2}\[info\] node POST\n/);
      mark = dev.output().length;
      await writeFile(
        join(dir, "index.js"),
        `export default { fetch() { return Response.json({ v: 2, pid: process.pid }); } };`,
      );
      await dev.waitFor(/Reloaded \(index\.js changed\)/, mark);
      const second = await getJson(dev.url);
      expect(second.v).toBe(2);
      expect(second.pid).not.toBe(first.pid);

      mark = dev.output().length;
      await writeFile(join(dir, "index.js"), "export default {};");
      await dev.waitFor(
        /Reload failed \(index\.js changed\); the previous code keeps serving:\n {2}the handler did not load: .*no usable handler/,
        mark,
      );
      expect((await getJson(dev.url)).v).toBe(2);
    } finally {
      expect(await dev.stop()).toBe(0);
    }
  });
});
