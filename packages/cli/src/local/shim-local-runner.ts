import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  errorResult,
  type FunctionLogLine,
  fromShimResponse,
  HOP_BY_HOP_HEADERS,
  headerPairs,
  type InvocationRequest,
  type Runtime,
} from "@kumo/core";
import { CliError, EXIT_CODES, invalidLocalInput } from "../errors.ts";
import type { LocalFunction } from "./local-function.ts";
import type { LocalResult, LocalRunner } from "./local-runner.ts";

/** Framing headers, and the shim's per-invocation CPU/memory report (`kumo-usage`, which the platform's autoscaler strips too). */
const SHIM_ONLY_HEADERS: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, "kumo-usage"]);

// The shims are run from this checkout, the same files the runtime images copy (deploy/images/).
const NODE_SHIM = fileURLToPath(new URL("../../../../runtimes/node/shim/main.mjs", import.meta.url));
const PYTHON_SHIM = fileURLToPath(new URL("../../../../runtimes/python/shim/kumo_shim.py", import.meta.url));

interface Interpreter {
  command: string;
  args: string[];
}

/** How each container runtime's shim starts on the host, as its image's ENTRYPOINT does. */
const INTERPRETERS: Partial<Record<Runtime, { binary: string; args: string[]; install: string }>> = {
  bun: { binary: "bun", args: [NODE_SHIM], install: "install Bun (https://bun.sh, or `npm install -g bun`)" },
  deno: {
    binary: "deno",
    args: ["run", "-A", "--no-lock", "--node-modules-dir=manual", NODE_SHIM],
    install: "install Deno (https://deno.com, or `npm install -g deno`)",
  },
  python: {
    binary: "python3",
    args: ["-s", PYTHON_SHIM],
    install: "install Python 3.11 or newer (your system's python3 package)",
  },
};

const START_TIMEOUT_MS = 15_000;
/** Log lines reach us on the child's stdout, apart from its response: give them a moment to arrive. */
const LOG_SETTLE_MS = 25;

interface Shim {
  child: ChildProcess;
  dir: string;
  socket: string;
  exited: Promise<number | null>;
  stderr: string[];
}

/**
 * node, bun, deno and python functions in their runtime shim (runtimes/node/shim, runtimes/python/shim)
 * on this machine's interpreter, spoken to over its unix socket exactly as the autoscaler does in a
 * container. Each load starts a new shim process, so reloaded code is never a stale module cache.
 */
export class ShimLocalRunner implements LocalRunner {
  readonly label: string;
  readonly #interpreter: Interpreter;
  readonly #logs = new Map<string, FunctionLogLine[]>();
  #shim: Shim | undefined;
  #fn: LocalFunction | undefined;

  private constructor(label: string, interpreter: Interpreter) {
    this.label = label;
    this.#interpreter = interpreter;
  }

  /** The runner of a runtime, or a usage error naming what to install when its binary is absent. */
  static forRuntime(runtime: Runtime, env: Readonly<Record<string, string | undefined>>): ShimLocalRunner {
    if (runtime === "node") {
      return new ShimLocalRunner(`node ${process.version} (runtime shim)`, {
        command: process.execPath,
        args: ["--disable-warning=ExperimentalWarning", NODE_SHIM],
      });
    }
    const spec = INTERPRETERS[runtime];
    if (spec === undefined) throw invalidLocalInput(`runtime "${runtime}" has no local shim`);
    const command = findOnPath(spec.binary, env.PATH ?? "");
    if (command === undefined) {
      throw new CliError(
        "UNAVAILABLE",
        EXIT_CODES.error,
        `runtime "${runtime}" runs locally with \`${spec.binary}\`, which is not on your PATH`,
        { hint: spec.install },
      );
    }
    return new ShimLocalRunner(`${runtime} (${command}, runtime shim)`, {
      command,
      args: spec.args,
    });
  }

  /** Starts a new shim with the code; only once it loaded does it replace the running one. */
  async load(fn: LocalFunction): Promise<void> {
    const shim = await this.#start(fn);
    try {
      await this.#init(shim, fn);
    } catch (error) {
      await this.#kill(shim);
      throw error;
    }
    const previous = this.#shim;
    this.#shim = shim;
    this.#fn = fn;
    if (previous) await this.#kill(previous);
  }

  async #init(shim: Shim, fn: LocalFunction): Promise<void> {
    const body = JSON.stringify({ codeDir: fn.dir, handler: fn.config.handler, env: fn.env });
    const init = await call(shim.socket, "POST", "/init", { "content-type": "application/json" }, body);
    if (init === "timeout") {
      throw new CliError("FN_006", EXIT_CODES.error, "the handler did not load within 30 s");
    }
    if (init.status !== 200) {
      const text = Buffer.from(init.body).toString("utf8");
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {}
      throw new CliError("FN_006", EXIT_CODES.error, `the handler did not load: ${message}`);
    }
  }

  async invoke(request: InvocationRequest): Promise<LocalResult> {
    const shim = this.#shim;
    if (!shim) throw new Error("load() the function before invoking it");
    this.#logs.set(request.invocationId, []);
    const headers: Record<string, string> = {
      ...request.headers,
      "kumo-invocation-id": request.invocationId,
      "kumo-deadline-ms": String(request.deadline),
    };
    if (request.body) headers["content-length"] = String(request.body.byteLength);
    try {
      const timeoutMs = Math.max(1, request.deadline - Date.now());
      const answer = await call(
        shim.socket,
        request.method,
        `/invoke${request.url}`,
        headers,
        request.body,
        timeoutMs,
      );
      if (answer === "timeout") {
        // The handler may still be running: a fresh shim serves the next invocation, as the platform's would.
        if (this.#fn) await this.load(this.#fn).catch(() => undefined);
        return {
          ...errorResult({
            code: "FN_002",
            message: `the function did not answer within its ${this.#fn?.config.timeoutMs ?? 0} ms timeout`,
          }),
          body: new Uint8Array(0),
          logs: this.#logs.get(request.invocationId) ?? [],
        };
      }
      await new Promise((resolve) => setTimeout(resolve, LOG_SETTLE_MS));
      const result = fromShimResponse(
        {
          status: answer.status,
          headers: headerPairs(answer.rawHeaders, SHIM_ONLY_HEADERS),
          coldStart: "warm",
          queueMs: 0,
        },
        answer.body,
      );
      return { ...result, body: answer.body, logs: this.#logs.get(request.invocationId) ?? [] };
    } catch (error) {
      const exit = shim.child.exitCode;
      const why = exit === null ? (error as Error).message : `the shim exited with code ${exit}`;
      return { ...errorResult({ code: "FN_004", message: why }), body: new Uint8Array(0), logs: [] };
    } finally {
      this.#logs.delete(request.invocationId);
    }
  }

  async close(): Promise<void> {
    await this.#stop();
  }

  async #start(fn: LocalFunction): Promise<Shim> {
    const dir = await mkdtemp(join(tmpdir(), "kumo-dev-"));
    const socket = join(dir, "rt.sock");
    const child = spawn(this.#interpreter.command, this.#interpreter.args, {
      cwd: fn.dir,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? dir,
        KUMO_SOCKET: socket,
        KUMO_FUNCTION_NAME: fn.name,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code) => resolve(code));
      child.once("error", (error) => {
        stderr.push(error.message);
        resolve(-1);
      });
    });
    if (child.stdout) createInterface({ input: child.stdout }).on("line", (line) => this.#onLine(line));
    if (child.stderr) {
      createInterface({ input: child.stderr }).on("line", (line) => {
        if (stderr.length < 50) stderr.push(line);
      });
    }
    const shim = { child, dir, socket, exited, stderr };
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        await rm(dir, { recursive: true, force: true });
        throw new CliError(
          "UNAVAILABLE",
          EXIT_CODES.error,
          `the ${this.label} exited at start: ${stderr.join("\n") || `code ${child.exitCode}`}`,
        );
      }
      const health = await call(socket, "GET", "/healthz", {}, null, 1000).catch(() => undefined);
      if (health !== undefined && health !== "timeout" && health.status === 200) return shim;
      if (Date.now() - started > START_TIMEOUT_MS) {
        await this.#kill(shim);
        throw new CliError(
          "UNAVAILABLE",
          EXIT_CODES.error,
          `the ${this.label} did not start within ${START_TIMEOUT_MS / 1000} s`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The shim's stdout: JSON lines tagged with the invocation they belong to. */
  #onLine(text: string): void {
    let line: { ts?: unknown; level?: unknown; invocationId?: unknown; message?: unknown };
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      line = { message: text };
    }
    const id = typeof line.invocationId === "string" ? line.invocationId : undefined;
    const lines = id === undefined ? undefined : this.#logs.get(id);
    if (lines === undefined || typeof line.message !== "string") return;
    const level =
      line.level === "debug" || line.level === "warn" || line.level === "error" ? line.level : "info";
    lines.push({ ts: typeof line.ts === "number" ? line.ts : Date.now(), level, message: line.message });
  }

  async #stop(): Promise<void> {
    const shim = this.#shim;
    this.#shim = undefined;
    if (shim) await this.#kill(shim);
  }

  async #kill(shim: Shim): Promise<void> {
    if (shim.child.exitCode === null && shim.child.signalCode === null) {
      shim.child.kill("SIGTERM");
      const timer = setTimeout(() => shim.child.kill("SIGKILL"), 2000);
      await shim.exited;
      clearTimeout(timer);
    }
    await rm(shim.dir, { recursive: true, force: true });
  }
}

interface Answer {
  status: number;
  rawHeaders: string[];
  body: Uint8Array;
}

/** One HTTP/1.1 exchange with the shim over its unix socket; "timeout" when it takes longer than timeoutMs. */
function call(
  socketPath: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Uint8Array | string | null,
  timeoutMs = 30_000,
): Promise<Answer | "timeout"> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 502, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve("timeout");
    }, timeoutMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body ?? undefined);
  });
}

function findOnPath(binary: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
