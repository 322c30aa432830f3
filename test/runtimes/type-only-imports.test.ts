import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningFunction, RuntimeHarness, SETUP_TIMEOUT_MS } from "./runtime-harness.ts";

interface ImagesModule {
  ensureImages(options: {
    only: string[];
    log?: (line: string) => void;
  }): Promise<{ ok: boolean; images: Record<string, string>; failed: Record<string, string> }>;
}

/** This checkout's runtime image by its pinned tag (`:latest` may be another checkout's build). */
async function runtimeImage(lang: string): Promise<string> {
  const images = (await import(new URL("../../scripts/images.mjs", import.meta.url).href)) as ImagesModule;
  const result = await images.ensureImages({ only: [lang], log: () => {} });
  const ref = result.images[`runtime-${lang}`];
  if (!result.ok || !ref) throw new Error(`runtime images failed to build: ${JSON.stringify(result.failed)}`);
  return ref;
}

/**
 * TypeScript written for tsc or esbuild imports interfaces without `import type`; those imports
 * are dropped (Node keeps them as written and the module would fail to link), and the stack trace of
 * a throw keeps the file's own line numbers.
 */
const files: Record<string, string> = {
  "types.ts": [
    "export interface Greeting { text: string }",
    "export type Shout = (g: Greeting) => string;",
    'export const exclaim = (s: string): string => s + "!";',
  ].join("\n"),
  "index.ts": [
    'import { Greeting, Shout, exclaim } from "./types.ts";',
    "import {",
    "  type Greeting as Again,",
    '} from "./types.ts";',
    "const shout: Shout = (g: Greeting): string => exclaim(g.text.toUpperCase());",
    "export default {",
    "  fetch(request: Request): Response {",
    '    if (new URL(request.url).pathname === "/throw") throw new Error("line 8");',
    '    const g: Again = { text: "hello" };',
    "    return new Response(shout(g));",
    "  },",
    "};",
  ].join("\n"),
};

for (const lang of ["node", "bun", "deno"] as const) {
  describe(`typescript imports - ${lang}`, () => {
    const harness = new RuntimeHarness();
    let fn: RunningFunction;

    beforeAll(async () => {
      const image = await runtimeImage(lang);
      fn = await harness.start(image, { codeMount: harness.writeCode(files) });
      const init = await fn.request({
        method: "POST",
        path: "/init",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ codeDir: "/code", handler: "index", env: {} }),
      });
      expect([init.status, init.body.toString()]).toEqual([200, '{"state":"ready","kind":"workers"}']);
    }, SETUP_TIMEOUT_MS);
    afterAll(() => harness.cleanup());

    it("type-only imports without `import type` load; value imports beside them still work; lines stay", async () => {
      const res = await fn.request({ path: "/invoke/" });
      expect([res.status, res.body.toString()]).toEqual([200, "HELLO!"]);
      const thrown = await fn.request({ path: "/invoke/throw" });
      expect(thrown.status).toBe(500);
      expect((thrown.json() as { stack: string }).stack).toMatch(/index\.ts:8:\d+/);
    });
  });
}
