import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureRuntimeImages,
  type RunningFunction,
  RuntimeHarness,
  SETUP_TIMEOUT_MS,
  waitForLog,
} from "./runtime-harness.ts";

const exampleDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../runtimes/custom/example");

describe("runtime custom - the example image honours the contract", () => {
  const harness = new RuntimeHarness();
  let fn: RunningFunction;

  beforeAll(async () => {
    await ensureRuntimeImages(["node"]);
    const files = Object.fromEntries(
      ["Dockerfile", "server.mjs"].map((name) => [name, readFileSync(join(exampleDir, name), "utf8")]),
    );
    fn = await harness.start(await harness.buildImage(files));
  }, SETUP_TIMEOUT_MS);
  afterAll(() => harness.cleanup());

  it("custom - healthz and invoke over $KUMO_SOCKET under the same hardening", async () => {
    expect((await fn.request({ path: "/healthz" })).status).toBe(200);
    const res = await fn.request({ path: "/invoke/there", headers: { "kumo-invocation-id": "inv-c1" } });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe("custom image says hi to /there");
    const line = await waitForLog(fn, (l) => l.invocationId === "inv-c1");
    expect(line.message).toBe("custom /invoke/there");
  });
});
