import { type ChildProcess, spawn } from "node:child_process";
import type { Duplex } from "node:stream";
import type { ErrorCode, FunctionLogLine } from "@kumo/core";
import { type FrameFields, FrameWriter, readFrames } from "./frame-channel.ts";
import type {
  FromHost,
  FunctionCode,
  HostSettings,
  InvokeMessage,
  ToHost,
  WireResult,
} from "./host-protocol.ts";
import type { RuntimeAssets } from "./runtime-assets.ts";
import { FRAME, readJson, readResult, writeInvoke, writeJson } from "./wire-codec.ts";

export type HostState = "starting" | "ready" | "stopped";

export interface HostEvents {
  lateLogs(invocationId: string, logs: FunctionLogLine[]): void;
  limit(versionId: string, code: string, message: string): void;
  restarted(index: number): void;
}

interface Pending {
  message: InvokeMessage;
  loadCode: () => Promise<FunctionCode>;
  resolve(result: WireResult): void;
}

const STDERR_TAIL = 4096;

const encoder = new TextEncoder();

/**
 * Keys whose code a host was sent are remembered up to this many; past it the list starts over,
 * and a key's next invocation carries its code again (the host keeps what it has).
 */
const MAX_CODE_SENT_KEYS = 4096;

/** The child's fd 3: a unix socketpair carrying frames (see frame-channel.ts). */
const CHANNEL_FD = 3;

/**
 * One supervised isolate-host child process. Invocations are pipelined over its frame channel; when it
 * dies (V8 fatal OOM, segfault, kill) its in-flight invocations fail with a code and it is restarted,
 * with a growing delay only if it keeps crashing.
 */
export class HostProcess {
  readonly index: number;
  state: HostState = "starting";
  restarts = 0;
  warm = 0;
  spare = 0;
  /** Times the host asked for a version's code it did not hold (FRAME.needCode). */
  codeRequests = 0;
  pid: number | undefined;
  readonly #assets: RuntimeAssets;
  readonly #settings: HostSettings;
  readonly #events: HostEvents;
  readonly #nodeArgs: readonly string[];
  readonly #pending = new Map<number, Pending>();
  readonly #probes = new Map<number, (value: { rss: number; heapBytes: number[] }) => void>();
  #child: ChildProcess | null = null;
  #channel: Duplex | null = null;
  #writer: FrameWriter | null = null;
  #ready: Promise<void> = Promise.resolve();
  #seq = 0;
  #stderr = "";
  #crashStreak = 0;
  /**
   * Keys whose code this process of the host was sent. A key's first invocation carries its code,
   * so a cold start of a new version needs no round trip for it; later ones go without, and a host
   * that dropped the code since asks for it (FRAME.needCode).
   */
  readonly #codeSent = new Set<string>();

  /** `nodeArgs`: extra node flags of the child, e.g. `--cpu-prof` to profile it. */
  constructor(
    index: number,
    assets: RuntimeAssets,
    settings: HostSettings,
    events: HostEvents,
    nodeArgs: readonly string[] = [],
  ) {
    this.index = index;
    this.#nodeArgs = nodeArgs;
    this.#assets = assets;
    this.#settings = settings;
    this.#events = events;
  }

  get inflight(): number {
    return this.#pending.size;
  }

  start(): Promise<void> {
    this.state = "starting";
    const child = spawn(
      process.execPath,
      [...this.#nodeArgs, "--no-node-snapshot", this.#assets.hostEntry, this.#assets.ivmPath],
      { stdio: ["ignore", "inherit", "pipe", "pipe"] },
    );
    const channel = child.stdio[CHANNEL_FD] as Duplex;
    // A write after the child died fails with EPIPE; the exit handler reports it, not this.
    channel.on("error", () => undefined);
    this.#child = child;
    this.#channel = channel;
    this.#writer = new FrameWriter(channel);
    this.#codeSent.clear();
    this.pid = child.pid;
    this.#stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL);
    });
    let started: () => void = () => undefined;
    this.#ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      child.once("exit", () => reject(new Error(`isolate host exited during start: ${this.#stderr.trim()}`)));
    });
    this.#ready.catch(() => undefined);
    readFrames(channel, (type, id, fields) => {
      if (this.#child !== child) return;
      if (type === FRAME.result) this.#onResult(id, fields);
      else if (type === FRAME.needCode) this.#onNeedCode(id);
      else {
        const message = readJson<FromHost>(fields);
        if (message.t === "ready") {
          this.state = "ready";
          this.#crashStreak = 0;
          started();
        } else this.#onMessage(message);
      }
    });
    // "close" rather than "exit": stderr is drained by then, so a fatal OOM message is seen.
    child.once("close", (code, signal) => this.#onExit(child, code, signal));
    this.#send({ t: "init", settings: this.#settings });
    return this.#ready;
  }

  /** Sends one invocation; resolves with its result, also when the host dies meanwhile. */
  invoke(
    message: Omit<InvokeMessage, "t" | "id">,
    loadCode: () => Promise<FunctionCode>,
  ): Promise<WireResult> {
    // A ready host takes the invocation in this tick; otherwise it waits for the (re)start.
    if (this.state !== "ready") return this.#ready.then(() => this.#sendInvoke(message, loadCode));
    return this.#sendInvoke(message, loadCode);
  }

  #sendInvoke(
    message: Omit<InvokeMessage, "t" | "id">,
    loadCode: () => Promise<FunctionCode>,
  ): Promise<WireResult> {
    const writer = this.#writer;
    if (!writer || !this.#channel?.writable)
      return Promise.resolve(hostError("FN_008", "the isolate host is restarting; retry shortly"));
    const id = this.#nextId();
    const full: InvokeMessage = { t: "invoke", id, ...message };
    const first = !this.#codeSent.has(message.key);
    if (first) {
      if (this.#codeSent.size >= MAX_CODE_SENT_KEYS) this.#codeSent.clear();
      this.#codeSent.add(message.key);
    }
    return new Promise<WireResult>((resolve) => {
      this.#pending.set(id, { message: full, loadCode, resolve });
      if (first) this.#sendWithCode(id);
      else writeInvoke(writer, full);
    });
  }

  evict(versionId: string): void {
    if (this.state === "ready") this.#send({ t: "evict", versionId });
  }

  async probe(): Promise<{ rss: number; heapBytes: number[] }> {
    await this.#ready;
    const id = this.#nextId();
    return new Promise((resolve) => {
      this.#probes.set(id, resolve);
      this.#send({ t: "probe", id });
    });
  }

  /** Kills the process (used by tests and stop()). */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.#child?.kill(signal);
  }

  async stop(): Promise<void> {
    this.state = "stopped";
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // The host exits when its channel ends (as it does when this process dies).
    this.#writer?.flush();
    this.#channel?.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** Frame ids are u32 on the wire. */
  #nextId(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #send(message: ToHost): void {
    if (this.#writer && this.#channel?.writable) writeJson(this.#writer, message);
  }

  #onResult(id: number, fields: FrameFields): void {
    const { result, warm, spare } = readResult(fields);
    this.warm = warm;
    this.spare = spare;
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.resolve(result);
  }

  #onNeedCode(id: number): void {
    this.codeRequests++;
    const pending = this.#pending.get(id);
    if (pending) this.#codeSent.add(pending.message.key);
    this.#sendWithCode(id);
  }

  /** Sends a pending invocation again (or for the first time) with its version's code. */
  #sendWithCode(id: number): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    pending.loadCode().then(
      ({ code, env, handlerShape }) => {
        // Failed meanwhile (the host died: its in-flight work was answered) — nothing to send.
        if (this.#pending.get(id) !== pending) return;
        if (this.#writer && this.#channel?.writable)
          writeInvoke(this.#writer, {
            ...pending.message,
            code,
            env,
            ...(handlerShape ? { handlerShape } : {}),
          });
      },
      (error: unknown) => {
        if (this.#pending.get(id) !== pending) return;
        this.#pending.delete(id);
        const text = error instanceof Error ? error.message : String(error);
        pending.resolve(hostError("FN_008", `could not load the function's code: ${text}`));
      },
    );
  }

  #onMessage(message: FromHost): void {
    switch (message.t) {
      case "late-logs":
        this.#events.lateLogs(message.invocationId, message.logs);
        return;
      case "limit":
        this.#events.limit(message.versionId, message.code, message.message);
        return;
      case "probe":
        this.#probes.get(message.id)?.({ rss: message.rss, heapBytes: message.heapBytes });
        this.#probes.delete(message.id);
        return;
      default:
        return;
    }
  }

  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return;
    this.#child = null;
    this.#channel = null;
    this.#writer = null;
    const oom = /out of memory|heap limit|Allocation failed/i.test(this.#stderr);
    const failure = oom
      ? hostError("FN_003", "memory limit exceeded: the isolate host ran out of memory and was restarted")
      : hostError("FN_500", `isolate host process exited (${signal ?? `code ${code}`}); it was restarted`);
    for (const pending of this.#pending.values()) pending.resolve(failure);
    this.#pending.clear();
    this.#probes.clear();
    if (this.state === "stopped") return;
    this.restarts++;
    this.#crashStreak++;
    const delay = this.#crashStreak <= 1 ? 0 : Math.min(5000, 50 * 2 ** this.#crashStreak);
    this.state = "starting";
    let release: () => void = () => undefined;
    this.#ready = new Promise<void>((resolve) => {
      release = resolve;
    });
    setTimeout(() => {
      if (this.state === "stopped") return release();
      this.start().then(
        () => {
          this.#events.restarted(this.index);
          release();
        },
        () => release(),
      );
    }, delay).unref();
  }
}

function hostError(code: ErrorCode, message: string): WireResult {
  return {
    status: 0,
    headers: "content-type\0application/json",
    body: encoder.encode(JSON.stringify({ error: { code, message } })),
    error: { code, message },
    cold: false,
    logs: [],
  };
}
