import { spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRestrictedAddress, KumoError, redactUrl } from "@kumo/core";
import { simpleGit } from "simple-git";

export interface GitFetcherOptions {
  allowFile: boolean;
  /** Let git sources reach loopback, private, link-local and metadata addresses (operators only; tests). */
  allowPrivate: boolean;
  timeoutMs: number;
  /** Host name to addresses; the system resolver unless a test injects one. */
  resolve?: (hostname: string) => Promise<string[]>;
  /** Where the real reason of a failed fetch goes (the operator's log); the caller is told less. */
  log?: (line: string) => void;
}

const COMMIT = /^[0-9a-f]{40}$/;
const SAFE_REF = /^[A-Za-z0-9._/-]{1,200}$/;

/**
 * Shallow-fetches one ref of a git repository (simple-git) and returns its tree as a tar
 * (`git archive`: no .git; symlinks stay symlinks, which the gateway then refuses by name).
 *
 * http(s) sources get the address policy of edge `fetch` and destinations: the host (as WHATWG URL
 * parsing spells it, so 127.1, 0x7f000001 and 2130706433 are 127.0.0.1) is resolved, every address
 * must be public unless the operator allows private ones, and curl is pinned to the checked address
 * (`http.curloptResolve`), so a second DNS answer cannot point it elsewhere. Redirects are refused:
 * their target was never checked. Whatever goes wrong, the caller hears only "could not fetch"; the
 * reason goes to the operator's log.
 */
export class GitFetcher {
  readonly #options: GitFetcherOptions;
  readonly #resolve: (hostname: string) => Promise<string[]>;

  constructor(options: GitFetcherOptions) {
    this.#options = options;
    this.#resolve =
      options.resolve ?? (async (host) => (await lookup(host, { all: true })).map((a) => a.address));
  }

  async fetch(url: string, ref: string, signal: AbortSignal): Promise<{ tar: Buffer; commit: string }> {
    const parsed = this.#checkUrl(url);
    if (ref !== "" && (!SAFE_REF.test(ref) || ref.startsWith("-") || ref.includes(".."))) {
      throw new KumoError("FN_006", `git ref "${ref}" is not a branch, tag or commit name`);
    }
    const source = parsed.href;
    const secrets = [parsed.username, parsed.password].filter((s) => s.length > 0);
    const unfetchable = (reason: string) => {
      // git's own messages repeat the URL, credentials included.
      const said = secrets.reduce((text, secret) => text.replaceAll(secret, "***"), reason);
      this.#options.log?.(`git: could not fetch ${redactUrl(source)}${ref ? ` at ${ref}` : ""}: ${said}`);
      return new KumoError(
        "FN_006",
        `could not fetch ${redactUrl(source)}${ref ? ` at "${ref}"` : ""}: check that the URL names a git repository the builder can reach over http(s) and that the ref exists (loopback and private addresses are refused unless the builder sets KUMO_BUILD_GIT_ALLOW_PRIVATE)`,
      );
    };
    const dir = await mkdtemp(join(tmpdir(), "kumo-git-"));
    try {
      let pin: string[];
      try {
        pin = await this.#pin(parsed);
      } catch (error) {
        throw unfetchable(error instanceof Error ? error.message : String(error));
      }
      const git = simpleGit({
        baseDir: dir,
        timeout: { block: this.#options.timeoutMs },
        abort: signal,
        // We set protocol.*.allow ourselves (http(s) only, file when configured), hence the override.
        config: [
          "protocol.allow=never",
          "protocol.http.allow=always",
          "protocol.https.allow=always",
          `protocol.file.allow=${this.#options.allowFile ? "always" : "never"}`,
          "http.followRedirects=false",
          ...pin,
          "core.symlinks=true",
        ],
        unsafe: { allowUnsafeProtocolOverride: true },
      }).env({
        // A minimal environment: no editor, pager, proxy or credential helpers of the host.
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: dir,
        GIT_TERMINAL_PROMPT: "0",
        GIT_CONFIG_NOSYSTEM: "1",
      });
      try {
        if (COMMIT.test(ref)) {
          await git.init();
          await git.addRemote("origin", source);
          await git.fetch(["--depth", "1", "origin", ref]);
          await git.checkout(["--detach", "FETCH_HEAD"]);
        } else {
          await git.clone(source, dir, ["--depth", "1", "--no-tags", ...(ref ? ["--branch", ref] : [])]);
        }
      } catch (error) {
        if (signal.aborted) throw error;
        throw unfetchable(
          error instanceof Error ? error.message.trim().split("\n").slice(-3).join(" ") : String(error),
        );
      }
      const commit = (await git.revparse(["HEAD"])).trim();
      return { tar: await archive(dir, commit), commit };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * `-c` settings that make curl connect only to the checked addresses of the host; throws when the
   * host does not resolve or any of its addresses is refused (one bad answer is enough: which one
   * curl would pick is not ours to know).
   */
  async #pin(url: URL): Promise<string[]> {
    if (url.protocol === "file:") return [];
    const host = url.hostname.replace(/^\[|\]$/g, "");
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = await this.#resolve(host);
      } catch (error) {
        throw new Error(
          `${host} does not resolve (${error instanceof Error ? error.message : String(error)})`,
        );
      }
    }
    if (addresses.length === 0) throw new Error(`${host} has no addresses`);
    if (!this.#options.allowPrivate) {
      const bad = addresses.find((a) => isRestrictedAddress(a));
      if (bad !== undefined)
        throw new Error(
          `refused: ${isIP(host) ? host : `${host} resolves to ${bad}, which`} is a loopback, private, link-local or metadata address (KUMO_BUILD_GIT_ALLOW_PRIVATE=true allows them)`,
        );
    }
    if (isIP(host)) return [];
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    const pinned = addresses.map((a) => (isIP(a) === 6 ? `[${a}]` : a)).join(",");
    return [`http.curloptResolve=${host}:${port}:${pinned}`];
  }

  #checkUrl(url: string): URL {
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
    return parsed;
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
