import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

/**
 * Real-Docker harness for the runtime shim tests: builds tiny function images FROM the runtime
 * images, runs them hardened as DESIGN.md says, and speaks the runtime protocol over the unix socket.
 * Everything it creates carries the label dev.kumo.test=1 and is removed by cleanup().
 */

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FUNCTION_UID = 10001;
export const TEST_LABEL = "dev.kumo.test=1";
/** beforeAll may have to build runtime images on a machine where setup did not (go-build takes ~1 min). */
export const SETUP_TIMEOUT_MS = 300_000;

export type Lang = "node" | "bun" | "deno" | "python" | "go";

interface EnsureResult {
  ok: boolean;
  failed: Record<string, string>;
  images: Record<string, string>;
}
interface ImagesModule {
  ensureImages(options: { only: string[]; log?: (line: string) => void }): Promise<EnsureResult>;
}

/**
 * Builds the runtime images if they are missing (fast when they exist); throws naming what failed.
 * "container" is the port bridge's image (deploy/images/recipes.json `port-bridge`).
 */
export async function ensureRuntimeImages(langs: (Lang | "container")[]): Promise<void> {
  const href = pathToFileURL(join(repoRoot, "scripts/images.mjs")).href;
  const images = (await import(href)) as ImagesModule;
  const result = await images.ensureImages({ only: langs, log: () => {} });
  if (!result.ok) throw new Error(`runtime images failed to build: ${JSON.stringify(result.failed)}`);
}

export interface ShimResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): unknown;
}

export interface ShimRequest {
  method?: string;
  path: string;
  /** A list is sent as one header line per value. */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Fails the request when its connection is idle this long (default 15 s), e.g. after a 1xx. */
  timeoutMs?: number;
}

/** One HTTP/1.1 request to a shim over its unix socket. */
export function shimRequest(socketPath: string, req: ShimRequest): Promise<ShimResponse> {
  return new Promise((resolvePromise, reject) => {
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    const headers = { ...req.headers, ...(body ? { "content-length": String(body.length) } : {}) };
    const outgoing = httpRequest(
      { socketPath, path: req.path, method: req.method ?? "GET", headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const buf = Buffer.concat(chunks);
          resolvePromise({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: buf,
            json: () => JSON.parse(buf.toString("utf8")) as unknown,
          });
        });
        res.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.setTimeout(req.timeoutMs ?? 15_000, () =>
      outgoing.destroy(new Error(`timeout: ${req.method ?? "GET"} ${req.path}`)),
    );
    outgoing.end(body);
  });
}

/** A host directory readable by the function user, filled with the given files. */
export function writeCodeDir(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), "kumo-code-"));
  chmodSync(dir, 0o755);
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file, content, { mode: path.endsWith("function") ? 0o755 : 0o644 });
  }
  return dir;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Host directory mounted read-only at /code (stem-cell tests). */
  codeMount?: string;
}

export interface RunningFunction {
  id: string;
  socketPath: string;
  /** Milliseconds from `docker run` to the first 200 on /healthz. */
  readyMs: number;
  request(req: ShimRequest): Promise<ShimResponse>;
  logs(): Promise<LogLine[]>;
}

export interface LogLine {
  ts: number;
  level: string;
  invocationId: string | null;
  message: string;
  [key: string]: unknown;
}

/** Tracks what a test file created, so afterAll can remove it even when a test failed. */
export class RuntimeHarness {
  readonly #containers: string[] = [];
  readonly #images: string[] = [];
  readonly #dirs: string[] = [];

  /** A code directory on the host (for read-only mounts), removed by cleanup(). */
  writeCode(files: Record<string, string | Buffer>): string {
    const dir = writeCodeDir(files);
    this.#dirs.push(dir);
    return dir;
  }

  /** docker build of a context made of `files`; the image is removed by cleanup(). */
  async buildImage(files: Record<string, string | Buffer>): Promise<string> {
    // The label right after every FROM marks each stage's intermediate layers too (--label marks
    // only the final image), so the global teardown's prune finds them.
    const dockerfile = files.Dockerfile;
    const labelled =
      typeof dockerfile === "string"
        ? { ...files, Dockerfile: dockerfile.replace(/^(FROM .*)$/gm, `$1\nLABEL ${TEST_LABEL}`) }
        : files;
    const dir = this.writeCode(labelled);
    const tag = `kumo-test/fn-${randomUUID().slice(0, 8)}:latest`;
    this.#images.push(tag);
    const build = (...extra: string[]) =>
      run("docker", ["build", "-q", "--force-rm", ...extra, "--label", TEST_LABEL, "-t", tag, dir], {
        env: { ...process.env, DOCKER_BUILDKIT: "0" },
        maxBuffer: 16 * 1024 * 1024,
      });
    try {
      await build();
    } catch (error) {
      // A cached intermediate layer pruned by another vitest run's teardown on this machine (two
      // checkouts testing at once) between the cache hit and its use: build again without the cache.
      if (!String(error).includes("unknown parent image ID")) throw error;
      await build("--no-cache");
    }
    return tag;
  }

  /** Starts a hardened function container and waits until its shim answers /healthz. */
  async start(image: string, options: StartOptions = {}): Promise<RunningFunction> {
    const socketDir = mkdtempSync(join(tmpdir(), "kumo-sock-"));
    this.#dirs.push(socketDir);
    chownSync(socketDir, FUNCTION_UID, FUNCTION_UID);
    const args = ["run", "-d", "--label", TEST_LABEL, ...hardening(), "-v", `${socketDir}:/run/kumo`];
    if (options.codeMount) args.push("-v", `${options.codeMount}:/code:ro`);
    for (const [key, value] of Object.entries(options.env ?? {})) args.push("-e", `${key}=${value}`);
    const t0 = performance.now();
    const { stdout } = await run("docker", [...args, image]);
    const id = stdout.trim();
    this.#containers.push(id);
    const socketPath = join(socketDir, "rt.sock");
    await waitForHealthy(socketPath, id);
    const readyMs = performance.now() - t0;
    return {
      id,
      socketPath,
      readyMs,
      request: (req) => shimRequest(socketPath, req),
      logs: () => containerLogs(id),
    };
  }

  /** Copies a file out of an image (e.g. a compiled Go binary) into a host directory. */
  async copyFromImage(image: string, path: string, hostDir: string, name: string): Promise<void> {
    const { stdout } = await run("docker", ["create", "--label", TEST_LABEL, image]);
    const id = stdout.trim();
    try {
      await run("docker", ["cp", `${id}:${path}`, join(hostDir, name)]);
    } finally {
      await run("docker", ["rm", "-f", id]);
    }
  }

  async cleanup(): Promise<void> {
    if (this.#containers.length > 0) await run("docker", ["rm", "-f", ...this.#containers]).catch(() => {});
    if (this.#images.length > 0) {
      // --no-prune, and no `docker image prune` here: the untagged intermediate images (FROM +
      // LABEL) are shared through the build cache with builds other test files are running, and an
      // in-progress build's newest layer is dangling until its next step; removing one fails that
      // build ("unknown parent image ID"). The global teardown prunes them once every file is done.
      await run("docker", ["rmi", "-f", "--no-prune", ...this.#images]).catch(() => {});
    }
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true });
  }
}

/** The container hardening of DESIGN.md "Isolation and limits". */
export function hardening(): string[] {
  return [
    "--user",
    `${FUNCTION_UID}:${FUNCTION_UID}`,
    "--read-only",
    "--tmpfs",
    "/tmp:rw,nosuid,nodev,size=64m",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--pids-limit",
    "128",
    "--memory",
    "256m",
    "--cpus",
    "1",
    "--network",
    "none",
  ];
}

async function waitForHealthy(socketPath: string, id: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await shimRequest(socketPath, { path: "/healthz" });
      if (res.status === 200) return;
      last = `healthz ${res.status}: ${res.body.toString("utf8")}`;
      if (last.includes('"state":"failed"')) break;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const logs = await run("docker", ["logs", "--tail", "20", id]).catch(() => ({ stdout: "", stderr: "" }));
  throw new Error(`shim not healthy after ${timeoutMs} ms (${last}); logs:\n${logs.stdout}${logs.stderr}`);
}

/** The container's log stream parsed as the shim's JSON lines; a line that is not JSON fails the test. */
export async function containerLogs(id: string): Promise<LogLine[]> {
  const { stdout, stderr } = await run("docker", ["logs", id], { maxBuffer: 16 * 1024 * 1024 });
  return `${stdout}${stderr}`
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`log line is not JSON: ${line}`);
      }
    });
}

/** Polls the logs until a line matches (the log driver may lag a few ms behind the response). */
export async function waitForLog(
  fn: Pick<RunningFunction, "logs">,
  match: (line: LogLine) => boolean,
): Promise<LogLine> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const found = (await fn.logs()).find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error("expected log line did not appear");
    await new Promise((r) => setTimeout(r, 50));
  }
}
