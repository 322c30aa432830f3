import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KumoError, redactUrl } from "@kumo/core";
import { simpleGit } from "simple-git";

export interface GitFetcherOptions {
  allowFile: boolean;
  timeoutMs: number;
}

const COMMIT = /^[0-9a-f]{40}$/;
const SAFE_REF = /^[A-Za-z0-9._/-]{1,200}$/;

/**
 * Shallow-fetches one ref of a git repository (simple-git) and returns its tree as a tar
 * (`git archive`: no .git; symlinks stay symlinks, which the gateway then refuses by name).
 */
export class GitFetcher {
  readonly #options: GitFetcherOptions;

  constructor(options: GitFetcherOptions) {
    this.#options = options;
  }

  async fetch(url: string, ref: string, signal: AbortSignal): Promise<{ tar: Buffer; commit: string }> {
    this.#checkUrl(url);
    if (ref !== "" && (!SAFE_REF.test(ref) || ref.startsWith("-") || ref.includes(".."))) {
      throw new KumoError("FN_006", `git ref "${ref}" is not a branch, tag or commit name`);
    }
    const dir = await mkdtemp(join(tmpdir(), "kumo-git-"));
    try {
      const git = simpleGit({
        baseDir: dir,
        timeout: { block: this.#options.timeoutMs },
        abort: signal,
        // We set protocol.file.allow ourselves (off unless configured), hence the override.
        config: [`protocol.file.allow=${this.#options.allowFile ? "always" : "never"}`, "core.symlinks=true"],
        unsafe: { allowUnsafeProtocolOverride: true },
      }).env({
        // A minimal environment: no editor, pager or credential helpers of the host.
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        GIT_TERMINAL_PROMPT: "0",
        GIT_CONFIG_NOSYSTEM: "1",
      });
      try {
        if (COMMIT.test(ref)) {
          await git.init();
          await git.addRemote("origin", url);
          await git.fetch(["--depth", "1", "origin", ref]);
          await git.checkout(["--detach", "FETCH_HEAD"]);
        } else {
          await git.clone(url, dir, ["--depth", "1", "--no-tags", ...(ref ? ["--branch", ref] : [])]);
        }
      } catch (error) {
        const message =
          error instanceof Error ? error.message.trim().split("\n").slice(-3).join(" ") : String(error);
        throw new KumoError(
          "FN_006",
          `could not fetch ${redactUrl(url)}${ref ? ` at "${ref}"` : ""}: ${message}`,
        );
      }
      const commit = (await git.revparse(["HEAD"])).trim();
      return { tar: await archive(dir, commit), commit };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  #checkUrl(url: string): void {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new KumoError("FN_006", `"${url}" is not a URL; use https://host/owner/repo.git`);
    }
    const allowed = ["https:", "http:", ...(this.#options.allowFile ? ["file:"] : [])];
    if (!allowed.includes(parsed.protocol)) {
      throw new KumoError(
        "FN_006",
        `git URLs must use ${allowed.join(" or ")} (got ${parsed.protocol}); ${parsed.protocol === "file:" ? "file:// is off unless the builder sets KUMO_BUILD_GIT_ALLOW_FILE" : "ssh and other transports are not supported"}`,
      );
    }
  }
}

function archive(dir: string, commit: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["archive", "--format=tar", commit], { cwd: dir });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`git archive failed: ${stderr.trim()}`)),
    );
  });
}
