import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { functionConfigSchema } from "@kumo/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { injectFetch } from "../cli/support/inject-fetch.ts";
import { runKumo } from "../cli/support/run-kumo.ts";
import { TriggerPlane } from "../triggers/trigger-plane.ts";
import { commandsOf, type DocBlock, type DocCommand, docBlocks, markdownPages } from "./doc-blocks.ts";

/** How long a command with `# expect:` may take to show the text (logs and async runs land later). */
const EXPECT_WITHIN_MS = 20_000;

const pages = markdownPages().map((page) => ({ page, blocks: docBlocks(page) }));
const runnable = pages.filter((p) => p.blocks.some((b) => b.kind === "run"));

/**
 * Every command and code sample the guide marks for testing, run against a real platform: a gateway
 * with edge isolates and an autoscaler for async runs (real PostgreSQL and NATS), the CLI in-process
 * through the gateway. Each page runs top to bottom in its own directory, as a reader would.
 */
describe("docs - examples", () => {
  let plane: TriggerPlane;

  beforeAll(async () => {
    plane = await new TriggerPlane().start();
  });
  afterAll(async () => {
    await plane?.close();
  });

  it("docs examples - the guide has tested walkthroughs (getting started, cron with a secret)", () => {
    expect(runnable.map((p) => p.page)).toEqual(
      expect.arrayContaining(["cron-with-secret.md", "getting-started.md"]),
    );
  });

  it("docs examples - every kumo.json sample is valid", () => {
    const samples = pages.flatMap((p) =>
      p.blocks.filter((b) => b.kind === "kumo.json" || (b.kind === "file" && b.path.endsWith("kumo.json"))),
    );
    expect(samples.length).toBeGreaterThan(0);
    for (const block of samples) {
      const parsed = functionConfigSchema.safeParse(JSON.parse(block.content));
      expect(parsed.success, `${block.page}:${block.line}: ${parsed.error?.message}`).toBe(true);
    }
  });

  for (const { page, blocks } of runnable) {
    it(`docs examples - ${page} runs as written`, { timeout: 90_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), "kumo-docs-"));
      const runner = new PageRunner(plane, dir);
      try {
        for (const block of blocks) await runner.run(block);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** Runs one page's blocks in order in its working directory, remembering outputs for placeholders. */
class PageRunner {
  readonly #plane: TriggerPlane;
  readonly #dir: string;
  #outputs = "";

  constructor(plane: TriggerPlane, dir: string) {
    this.#plane = plane;
    this.#dir = dir;
  }

  async run(block: DocBlock): Promise<void> {
    if (block.kind === "file") {
      const path = join(this.#dir, block.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, block.content);
      return;
    }
    if (block.kind !== "run") return;
    for (const command of commandsOf(block)) await this.#command(block, command);
  }

  async #command(block: DocBlock, command: DocCommand): Promise<void> {
    const where = `${block.page}:${command.line}: ${command.argv.join(" ")}`;
    const deadline = Date.now() + EXPECT_WITHIN_MS;
    for (;;) {
      const { code, output } = await this.#execute(
        command.argv.map((w) => this.#substitute(w)),
        where,
      );
      const missing = command.expect.filter((text) => !output.includes(text));
      if (code === 0 && missing.length === 0) {
        this.#outputs += output;
        return;
      }
      if (code !== 0 || Date.now() > deadline) {
        throw new Error(
          `${where}\nexit ${code}${missing.length ? `, missing ${JSON.stringify(missing)}` : ""}\n${output}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async #execute(argv: string[], where: string): Promise<{ code: number; output: string }> {
    const words = argv[0] === "npx" ? argv.slice(1) : argv;
    const fetch = injectFetch(this.#plane.gw.gateway.app);
    if (words[0] === "kumo") {
      const run = await runKumo(words.slice(1), {
        cwd: this.#dir,
        fetch,
        now: Date.now(),
        env: {
          KUMO_URL: "http://127.0.0.1:8080",
          KUMO_API_KEY: this.#plane.tenant.key,
          KUMO_CONFIG: join(this.#dir, ".kumo-cli.json"),
        },
      });
      return { code: run.code, output: run.stdout + run.stderr };
    }
    if (words[0] === "curl" && words.length === 2 && words[1]) {
      const res = await fetch(words[1]);
      return { code: res.ok ? 0 : 22, output: await res.text() };
    }
    throw new Error(`${where}: the doc tests run "kumo …" and "curl <url>" only; mark other blocks untested`);
  }

  /**
   * The reader's values: the `dev` tenant (in `/fn/dev/`, `/git/dev/` and `/r/dev/` URLs) is the
   * test's, `trg_…`-style ids come from earlier output.
   */
  #substitute(word: string): string {
    const tenant = this.#plane.tenant.name;
    const replaced = word.replace(/\/(fn|git|r)\/dev\//, (_, prefix: string) => `/${prefix}/${tenant}/`);
    const placeholder = /^([a-z]+_)…$/.exec(replaced);
    if (!placeholder?.[1]) return replaced;
    const ids = [...this.#outputs.matchAll(new RegExp(`\\b${placeholder[1]}[A-Za-z0-9]+`, "g"))];
    const id = ids.at(-1)?.[0];
    if (!id) throw new Error(`no ${placeholder[1]}… id in the output of the commands before`);
    return id;
  }
}
