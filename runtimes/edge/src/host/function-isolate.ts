import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import type { ErrorBody, ErrorCode, FunctionLogLine } from "@kumo/core";
import { checkFunctionResponse } from "@kumo/core/response-limits";
import type ivm from "isolated-vm";
import { splitEdgeScript } from "../edge-script.ts";
import type { FetchPolicy, IsolateLimits, WireRequest, WireResult } from "../host-protocol.ts";
import { headerPairsOf } from "../wire-codec.ts";
import { type BridgeRequest, bridgeFetch, type FetchBudget } from "./fetch-bridge.ts";
import { StackMapper } from "./stack-mapper.ts";
import { SubtleBridge, subtleFailure } from "./subtle-bridge.ts";

type Ivm = typeof ivm;
type Ref = ivm.Reference<Record<string, unknown>>;

/** Everything a FunctionIsolate needs from the host process, injected so it stays testable. */
export interface IsolateHooks {
  ivm: Ivm;
  fetchPolicy: FetchPolicy;
  lateLogs(invocationId: string, logs: FunctionLogLine[]): void;
  violated(isolate: FunctionIsolate, code: ErrorCode, message: string): void;
}

/** The bootstrap compiled once per host: the code plus V8's code cache for it. */
export interface CompiledBootstrap {
  code: string;
  cachedData: ivm.ExternalCopy<ArrayBuffer> | undefined;
}

interface Inflight {
  invocationId: string;
  wallMs: number;
  cpuStart: bigint;
  completedAtStart: number;
  startedAtStart: number;
  budget: FetchBudget;
  /** Armed only once the handler outlives the synchronous call; that call has its own timeout. */
  wallTimer: NodeJS.Timeout | undefined;
  waiting: boolean;
  /** Set while the handler's promise is pending: receives its outcome (or the isolate's death). */
  settle: ((outcome: DispatchOutcome | string | Error) => void) | undefined;
  /** An outcome that arrived before `settle` was set (possible on the off-thread path). */
  early: DispatchOutcome | string | undefined;
}

interface DispatchOutcome {
  ok: boolean;
  status?: number;
  /** Names and values alternating, joined by NUL. */
  headers?: string;
  body?: string | Uint8Array | null;
  error?: { name: string; message: string; stack: string; code: string | null; nextPath?: unknown };
  logs: [number, FunctionLogLine["level"], string][];
  waits: number;
}

/** What `dispatch` returns: the outcome when the handler settled within the call. */
interface Holder {
  value: DispatchOutcome | string | null;
}

export type IsolateState = "spare" | "ready" | "disposed";

const MAX_HOST_TIMERS = 1000;
/** The isolate's heap is read at most this often for the per-invocation memory figure (a locked call). */
const HEAP_SAMPLE_MS = 1000;
/**
 * A synchronous entry into the isolate blocks the host's event loop (and so every other function on
 * this host) while it runs. An isolate whose handler took longer than this is entered off-thread
 * (isolated-vm's async apply, ~50 µs more per call) for the next OFF_THREAD_CALLS invocations.
 */
const SYNC_BUDGET_MS = 1;
const OFF_THREAD_CALLS = 64;
/**
 * A cold start runs on this thread for bundles up to this size: setting the env, compiling (V8
 * pre-parses lazily, ~1 ms per MB), the module's top level and installing the exports. Each
 * off-thread call (isolated-vm's thread pool and back) cost ~0.3 ms on these machines, and their
 * tails more (cold start p90 9 ms with four of them, 6.3 ms with none). The top level blocks this
 * host's other functions while it runs, as a first invocation's synchronous entry does, bounded by
 * the same init timeout; larger bundles (big libraries, heavier top levels) go through isolated-vm's
 * thread pool for each of these steps.
 */
const SYNC_COLD_START_MAX_BYTES = 1024 * 1024;
const FUNCTION_FILE_PREFIX = "kumo:fn/";
/** The tenant's bundle runs inside this wrapper; its first line starts after the head. */
const MODULE_HEAD = "(function(){var module={exports:{}};var exports=module.exports;";
const encoder = new TextEncoder();
/**
 * NUL-joined header pairs with token names and values free of CR, LF and NUL. Headers built by the
 * polyfill always pass; a tenant that tampered with its prototypes gets FN_004, not a header the
 * gateway would choke on.
 */
const VALID_FLAT_HEADERS = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+\0[^\0\r\n]*(?:\0(?!$)|$))*$/;

const toLines = (logs: DispatchOutcome["logs"]): FunctionLogLine[] =>
  logs.map(([ts, level, message]) => ({ ts, level, message }));

/** Tells a tenant-caused allocation failure from an ordinary exception. */
const isAllocationFailure = (name: string, message: string) =>
  name === "RangeError" &&
  /Array buffer allocation failed|Invalid (typed )?array length|Invalid string length/.test(message);

/**
 * One V8 isolate running one function version of one tenant. Created "spare" (bootstrap evaluated,
 * no tenant code) so a cold start only compiles and runs the tenant's script; specialized once;
 * disposed on any limit violation so the next request gets a fresh one.
 */
export class FunctionIsolate {
  readonly isolate: ivm.Isolate;
  readonly memoryMb: number;
  state: IsolateState = "spare";
  key = "";
  versionId = "";
  lastUsed = Date.now();
  /** Invocations started and completed; the CPU watchdog's allowance grows with both. */
  completed = 0;
  started = 0;
  limits: IsolateLimits | null = null;
  readonly inflight = new Map<string, Inflight>();
  #context: ivm.Context;
  #hooks: IsolateHooks;
  #dispatch: Ref;
  #take: Ref;
  #deliver: Ref;
  #fireTimer: Ref;
  #install: Ref;
  #prepare: Ref;
  /** Maps stack frames back to the user's files, when the bundle came with a source map. */
  #stacks: StackMapper | undefined;
  #timers = new Map<number, NodeJS.Timeout>();
  /** crypto.subtle keys and calls beyond digest/HMAC (see subtle-bridge.ts). */
  #subtle = new SubtleBridge();
  #offThreadCalls = 0;
  #heapSampledAt = Number.NEGATIVE_INFINITY;
  #heapSample = 0;
  #violation: { code: ErrorCode; message: string } | null = null;

  private constructor(
    memoryMb: number,
    hooks: IsolateHooks,
    isolate: ivm.Isolate,
    context: ivm.Context,
    refs: Ref[],
  ) {
    this.memoryMb = memoryMb;
    this.#hooks = hooks;
    this.isolate = isolate;
    this.#context = context;
    const [dispatch, take, deliver, fireTimer, install, prepare] = refs;
    if (!dispatch || !take || !deliver || !fireTimer || !install || !prepare)
      throw new Error("bootstrap did not expose its entry points");
    this.#dispatch = dispatch;
    this.#take = take;
    this.#deliver = deliver;
    this.#fireTimer = fireTimer;
    this.#install = install;
    this.#prepare = prepare;
  }

  /**
   * Builds a spare isolate with the bootstrap evaluated. The work runs on isolated-vm's threads
   * (async API), so the host's event loop keeps serving while spares are prepared.
   */
  static async create(
    bootstrap: CompiledBootstrap,
    memoryMb: number,
    hooks: IsolateHooks,
  ): Promise<FunctionIsolate> {
    const { ivm } = hooks;
    const isolate = new ivm.Isolate({ memoryLimit: memoryMb });
    try {
      const context = await isolate.createContext();
      // The callbacks need the FunctionIsolate; it exists only after the bootstrap ran, so they go through a slot.
      const slot: { self: FunctionIsolate | null } = { self: null };
      const bridge = (await context.eval("globalThis.__kumo_host = {}", { reference: true })) as Ref;
      FunctionIsolate.#installBridge(ivm, bridge, slot);
      bridge.release();
      const script = await isolate.compileScript(bootstrap.code, {
        filename: "kumo:bootstrap",
        ...(bootstrap.cachedData ? { cachedData: bootstrap.cachedData } : {}),
      });
      const internal = (await script.run(context, { reference: true })) as Ref;
      script.release();
      const names = ["dispatch", "take", "deliver", "fireTimer", "install", "prepare", "warmUp"];
      const refs = await Promise.all(
        names.map((name) => internal.get(name, { reference: true }) as Promise<Ref>),
      );
      internal.release();
      const warmUp = refs.pop();
      await warmUp?.apply(undefined, []);
      warmUp?.release();
      const self = new FunctionIsolate(memoryMb, hooks, isolate, context, refs);
      slot.self = self;
      return self;
    } catch (error) {
      if (!isolate.isDisposed) isolate.dispose();
      throw error;
    }
  }

  static #installBridge(ivm: Ivm, bridge: Ref, slot: { self: FunctionIsolate | null }): void {
    const sync = (fn: (...args: never[]) => unknown) => new ivm.Callback(fn);
    const ignored = (fn: (...args: never[]) => unknown) => new ivm.Callback(fn, { ignored: true });
    bridge.setSync(
      "random",
      sync((n: number) => new Uint8Array(randomBytes(Math.min(65536, Math.max(0, n | 0))))),
    );
    bridge.setSync(
      "uuid",
      sync(() => randomUUID()),
    );
    bridge.setSync(
      "digest",
      sync((hash: string, data: Uint8Array) => new Uint8Array(createHash(hash).update(data).digest())),
    );
    bridge.setSync(
      "hmac",
      sync(
        (hash: string, key: Uint8Array, data: Uint8Array) =>
          new Uint8Array(createHmac(hash, key).update(data).digest()),
      ),
    );
    bridge.setSync(
      "timer",
      ignored((id: number, ms: number) => (slot.self ? slot.self.#startTimer(id, ms) : undefined)),
    );
    bridge.setSync(
      "clearTimer",
      ignored((id: number) => (slot.self ? slot.self.#clearTimer(id) : undefined)),
    );
    bridge.setSync(
      "fetch",
      ignored((callId: number, invocationId: string, req: BridgeRequest) =>
        slot.self ? slot.self.#fetch(callId, invocationId, req) : undefined,
      ),
    );
    bridge.setSync(
      "subtle",
      ignored((callId: number, method: string, args: unknown[]) =>
        slot.self ? slot.self.#subtleCall(callId, method, args) : undefined,
      ),
    );
    bridge.setSync(
      "dropKey",
      ignored((id: number) => (slot.self ? slot.self.#subtle.drop(id) : undefined)),
    );
    bridge.setSync(
      "settled",
      ignored((invocationId: string, outcome: DispatchOutcome | string) =>
        slot.self ? slot.self.#settled(invocationId, outcome) : undefined,
      ),
    );
    bridge.setSync(
      "waitDone",
      ignored((invocationId: string, logs: DispatchOutcome["logs"]) =>
        slot.self ? slot.self.#waitDone(invocationId, logs) : undefined,
      ),
    );
  }

  /** Produces V8's code cache for the bootstrap, once per host process. */
  static compileBootstrap(ivm: Ivm, code: string): CompiledBootstrap {
    const isolate = new ivm.Isolate({ memoryLimit: 64 });
    try {
      const script = isolate.compileScriptSync(code, { filename: "kumo:bootstrap", produceCachedData: true });
      return { code, cachedData: (script as { cachedData?: ivm.ExternalCopy<ArrayBuffer> }).cachedData };
    } finally {
      isolate.dispose();
    }
  }

  /** Compiles and runs the tenant's bundle and binds its handler. Throws an ErrorBody on failure. */
  async specialize(
    key: string,
    versionId: string,
    script: string,
    env: Record<string, string>,
    meta: {
      functionName: string;
      version: number;
      limits: IsolateLimits;
      maxSubrequests: number;
      handlerShape?: string | undefined;
    },
  ): Promise<void> {
    const { ivm } = this.#hooks;
    this.key = key;
    this.versionId = versionId;
    this.limits = meta.limits;
    this.state = "ready";
    const filename = `${FUNCTION_FILE_PREFIX}${meta.functionName}.js`;
    // The source map stays in this process: the isolate gets the code alone.
    const { code, sourceMap } = splitEdgeScript(script);
    this.#stacks = sourceMap ? new StackMapper(sourceMap, filename, MODULE_HEAD.length) : undefined;
    const wrapped = `${MODULE_HEAD}${code}\n;return module.exports;})()`;
    const initTimeout = Math.min(meta.limits.timeoutMs, Math.max(500, meta.limits.cpuMs * 10));
    const sync = wrapped.length <= SYNC_COLD_START_MAX_BYTES;
    let exportsRef: Ref;
    try {
      // process.env and Deno.env hold the function's env while its module's top level runs.
      const envCopy = [new ivm.ExternalCopy(env).copyInto()];
      if (sync) this.#prepare.applySync(undefined, envCopy, { timeout: initTimeout });
      else await this.#prepare.apply(undefined, envCopy, { timeout: initTimeout });
      const script = sync
        ? this.isolate.compileScriptSync(wrapped, { filename })
        : await this.isolate.compileScript(wrapped, { filename });
      const run = { reference: true, timeout: initTimeout } as const;
      exportsRef = (sync ? script.runSync(this.#context, run) : await script.run(this.#context, run)) as Ref;
      script.release();
    } catch (error) {
      throw this.#classifyThrown(error, "the function's module failed to load");
    }
    try {
      const args = [
        exportsRef.derefInto(),
        new ivm.ExternalCopy(env).copyInto(),
        new ivm.ExternalCopy({
          functionName: meta.functionName,
          version: meta.version,
          limits: { maxSubrequests: meta.maxSubrequests },
          handlerShape: meta.handlerShape ?? "",
        }).copyInto(),
      ];
      if (sync) this.#install.applySync(undefined, args, { timeout: initTimeout });
      else await this.#install.apply(undefined, args, { timeout: initTimeout });
    } catch (error) {
      // install() refuses a module no handler shape fits (its message lists the accepted shapes).
      const body = this.#classifyThrown(error, "unsupported module");
      throw body.code === "FN_004" ? { code: "FN_005", message: body.message } : body;
    } finally {
      exportsRef.release();
    }
  }

  /**
   * Runs one invocation. Never throws: failures come back as error results. It enters the isolate
   * with one synchronous call (~2 µs, against ~55 µs for isolated-vm's promise-returning apply), so
   * a handler that settles without waiting on I/O or timers (most do) yields its result in this
   * tick; the others report later through `settled`. One call per invocation, never a batch: the
   * microtasks drained when a call returns are then that invocation's, which is how its console
   * lines find it (inside/bootstrap.js).
   */
  invoke(request: WireRequest, maxSubrequests: number): WireResult | Promise<WireResult> {
    const limits = this.limits;
    if (!limits || this.state !== "ready") return errorResult("FN_500", "isolate is not ready", false);
    const now = Date.now();
    this.lastUsed = now;
    const started = performance.now();
    const result = this.#dispatchOne(request, maxSubrequests, limits, now);
    if (performance.now() - started > SYNC_BUDGET_MS) this.#offThreadCalls = OFF_THREAD_CALLS;
    return result;
  }

  #dispatchOne(
    request: WireRequest,
    maxSubrequests: number,
    limits: IsolateLimits,
    now: number,
  ): WireResult | Promise<WireResult> {
    if (this.disposed) return errorResult("FN_500", "isolate is not ready", false);
    const { ivm } = this.#hooks;
    const wallMs = Math.max(1, Math.min(limits.timeoutMs, request.deadline - now));
    const record: Inflight = {
      invocationId: request.invocationId,
      wallMs,
      cpuStart: this.isolate.cpuTime,
      completedAtStart: this.completed,
      startedAtStart: this.started++,
      budget: { remaining: maxSubrequests, deadline: now + wallMs },
      wallTimer: undefined,
      waiting: false,
      settle: undefined,
      early: undefined,
    };
    this.inflight.set(request.invocationId, record);
    const args = [
      request.invocationId,
      request.trigger,
      request.method,
      request.url,
      request.headers,
      request.body ? new ivm.ExternalCopy(request.body).copyInto({ release: true }) : null,
      request.deadline,
      now,
      limits.maxBodyBytes,
    ];
    // `dispatch` starts the handler and returns a holder `{ value }`, filled when it settled within
    // the call (microtasks run before the call returns); for an empty one `take` collects an outcome
    // that settled since, or registers for the `settled` callback. Every call carries isolated-vm's
    // timeout, bounded by the wall limit too (the wall-clock watchdog cannot fire while a
    // synchronous call blocks this thread). Concurrent invocations of one isolate share their fate
    // on a violation: the isolate is disposed.
    const copy = { result: { copy: true }, timeout: Math.min(wallMs, this.#entryTimeout()) } as const;
    if (this.#offThreadCalls > 0) {
      this.#offThreadCalls--;
      return (this.#dispatch.apply(undefined, args, copy) as Promise<Holder>)
        .then((holder) => holder?.value ?? this.#take.apply(undefined, [record.invocationId], copy))
        .then(
          (value: unknown) => this.#entered(record, value as DispatchOutcome | string | null, limits),
          (error: unknown) => this.#enterFailed(record, error),
        );
    }
    let holder: Holder;
    try {
      holder = this.#dispatch.applySync(undefined, args, copy) as Holder;
    } catch (error) {
      return this.#enterFailed(record, error);
    }
    const filled = holder?.value;
    if (filled != null) return this.#entered(record, filled, limits);
    if (this.disposed) return this.#enterFailed(record, new Error("Isolate is disposed"));
    try {
      const value = this.#take.applySync(undefined, [record.invocationId], copy);
      return this.#entered(record, value as DispatchOutcome | string | null, limits);
    } catch (error) {
      return this.#enterFailed(record, error);
    }
  }

  /** After the entry call: a settled outcome becomes the result; a pending one arms the wall timer. */
  #entered(
    record: Inflight,
    value: DispatchOutcome | string | null,
    limits: IsolateLimits,
  ): WireResult | Promise<WireResult> {
    this.completed++;
    const settled = value ?? record.early;
    if (settled !== undefined) return this.#complete(record, settled, limits);
    this.#armWallTimer(record);
    return new Promise<WireResult>((resolve) => {
      record.settle = (outcome) => {
        record.settle = undefined;
        if (outcome instanceof Error) resolve(this.#enterFailed(record, outcome));
        else resolve(this.#complete(record, outcome, limits));
      };
    });
  }

  /** The wall-clock limit of an invocation still running (pending, or in ctx.waitUntil work). */
  #armWallTimer(record: Inflight): void {
    if (record.wallTimer) return;
    const remaining = Math.max(1, record.budget.deadline - Date.now());
    const message = `wall time limit of ${record.wallMs} ms exceeded`;
    record.wallTimer = setTimeout(() => this.kill("FN_002", message), remaining);
  }

  #enterFailed(record: Inflight, error: unknown): WireResult {
    clearTimeout(record.wallTimer);
    this.inflight.delete(record.invocationId);
    this.completed++;
    const body = this.#classifyThrown(error, "invocation failed");
    if (!this.#violation) this.kill(body.code, body.message);
    return errorResult(body.code, body.message, false);
  }

  #complete(record: Inflight, value: DispatchOutcome | string, limits: IsolateLimits): WireResult {
    const outcome = typeof value === "string" ? fastOutcome(value) : value;
    if (outcome.waits > 0) {
      record.waiting = true;
      this.#armWallTimer(record);
    } else {
      clearTimeout(record.wallTimer);
      this.inflight.delete(record.invocationId);
    }
    const now = Date.now();
    this.lastUsed = now;
    const result = this.#toResult(outcome, limits);
    // Usage: the isolate's CPU time since the invocation began (concurrent invocations of this
    // isolate share it), and its heap as last sampled.
    if (!this.disposed) {
      result.cpuMs = Number(this.isolate.cpuTime - record.cpuStart) / 1e6;
      if (now - this.#heapSampledAt >= HEAP_SAMPLE_MS) {
        this.#heapSampledAt = now;
        this.#heapSample = this.heapBytes();
      }
      result.heapBytes = this.#heapSample;
    }
    return result;
  }

  #settled(invocationId: string, outcome: DispatchOutcome | string): void {
    const record = this.inflight.get(invocationId);
    if (!record) return;
    if (record.settle) record.settle(outcome);
    else record.early = outcome;
  }

  #toResult(outcome: DispatchOutcome, limits: IsolateLimits): WireResult {
    const logs = this.#mapLogs(toLines(outcome.logs));
    if (!outcome.ok) {
      const error = outcome.error ?? { name: "Error", message: "unknown error", stack: "", code: null };
      if (error.code === "FN_010") return { ...errorResult("FN_010", error.message, false), logs };
      if (isAllocationFailure(error.name, error.message)) {
        const message = `memory limit of ${limits.memoryMb} MB exceeded (${error.message})`;
        this.kill("FN_003", message);
        return { ...errorResult("FN_003", message, false), logs };
      }
      const message = `${error.name}: ${error.message}`;
      const stack = this.#mapStack(error.stack);
      // A workflow step's error branch (runtimes/shared/step.mjs); checked, as the tenant could tamper with it.
      const details =
        typeof error.nextPath === "string" && error.nextPath.length <= 200
          ? { name: error.name, stack, nextPath: error.nextPath }
          : { name: error.name, stack };
      // Logged too, as the container shims log a handler's error: `kumo logs` shows where it threw.
      const logged = [...logs, { ts: Date.now(), level: "error" as const, message: stack || message }];
      return { ...errorResult("FN_004", message, false, details), logs: logged };
    }
    // The outcome was built by code the tenant can tamper with (prototypes): only well-typed values
    // reach the frame encoder.
    const raw = outcome.body ?? "";
    const body = typeof raw === "string" || raw instanceof Uint8Array ? raw : String(raw);
    const headers = typeof outcome.headers === "string" ? outcome.headers : "";
    if (!VALID_FLAT_HEADERS.test(headers)) {
      return { ...errorResult("FN_004", "the response has an invalid header name or value", false), logs };
    }
    const problem = checkFunctionResponse(outcome.status, headerPairsOf(headers));
    if (problem) return { ...errorResult(problem.code, problem.message, false), logs };
    const status = outcome.status as number;
    // A string is encoded when the frame is written; its UTF-8 size is only computed when it could
    // be over the limit (at most 3 bytes per UTF-16 unit).
    const size =
      typeof body !== "string"
        ? body.byteLength
        : body.length * 3 <= limits.maxBodyBytes
          ? 0
          : Buffer.byteLength(body);
    if (size > limits.maxBodyBytes) {
      return {
        ...errorResult(
          "FN_010",
          `Response body of ${size} bytes exceeds the limit of ${limits.maxBodyBytes} bytes`,
          false,
        ),
        logs,
      };
    }
    return { status, headers, body, cold: false, logs };
  }

  /** Maps what isolated-vm threw to a code; a limit we enforced wins over the symptom. */
  #classifyThrown(error: unknown, context: string): ErrorBody {
    if (this.#violation) return { code: this.#violation.code, message: this.#violation.message };
    const message = error instanceof Error ? error.message : String(error);
    const name = error instanceof Error ? error.name : "Error";
    if (/memory limit/i.test(message) || isAllocationFailure(name, message)) {
      return { code: "FN_003", message: `memory limit of ${this.memoryMb} MB exceeded` };
    }
    if (/timed out/i.test(message)) {
      return { code: "FN_002", message: `CPU time limit of ${this.limits?.cpuMs ?? 0} ms exceeded` };
    }
    if (/disposed/i.test(message)) return { code: "FN_500", message: `${context}: isolate was disposed` };
    const stack = error instanceof Error && typeof error.stack === "string" ? error.stack : "";
    const frames = stack.split("\n").filter((line, i) => i === 0 || line.includes(FUNCTION_FILE_PREFIX));
    return {
      code: "FN_004",
      message: `${context}: ${name}: ${message}`,
      details: { name, stack: this.#mapStack(frames.join("\n")) },
    };
  }

  /** A stack with the bundle's positions replaced by the user's file:line:column (source map). */
  #mapStack(stack: string): string {
    if (!this.#stacks || typeof stack !== "string") return stack;
    try {
      return this.#stacks.map(stack);
    } catch {
      return stack;
    }
  }

  /** Error lines the function logged (uncaught errors in timers, console.error(err)) are mapped too. */
  #mapLogs(logs: FunctionLogLine[]): FunctionLogLine[] {
    if (!this.#stacks) return logs;
    return logs.map((line) =>
      line.level === "error" && line.message.includes(FUNCTION_FILE_PREFIX)
        ? { ...line, message: this.#mapStack(line.message) }
        : line,
    );
  }

  /** CPU check run by the host's watchdog: the allowance grows with invocations completed meanwhile. */
  checkCpu(): void {
    const limits = this.limits;
    if (!limits || this.state !== "ready" || this.inflight.size === 0) return;
    const now = this.isolate.cpuTime;
    for (const record of this.inflight.values()) {
      const usedMs = Number(now - record.cpuStart) / 1e6;
      // CPU time is per isolate, not per invocation: concurrent invocations share it, so the budget
      // counts everything that ran meanwhile. A runaway loop is still caught: every entry into the
      // isolate (dispatch, timers, fetch results) also carries isolated-vm's own timeout.
      const others = this.completed - record.completedAtStart + (this.started - record.startedAtStart);
      const allowedMs = limits.cpuMs * (1 + others);
      if (usedMs > allowedMs) {
        this.kill("FN_002", `CPU time limit of ${limits.cpuMs} ms exceeded`);
        return;
      }
    }
  }

  /** Disposes the isolate because of a limit; in-flight calls then fail with this code. */
  kill(code: ErrorCode, message: string): void {
    if (this.state === "disposed") return;
    this.#violation = { code, message };
    this.#hooks.violated(this, code, message);
    this.dispose();
  }

  dispose(): void {
    if (this.state === "disposed") return;
    this.state = "disposed";
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    try {
      this.isolate.dispose();
    } catch {
      // already disposed by isolated-vm after a memory limit
    }
    // Pending handlers will never settle now: fail them with the reason (the violation, if any).
    for (const record of this.inflight.values()) {
      clearTimeout(record.wallTimer);
      record.settle?.(new Error("Isolate is disposed"));
    }
  }

  get disposed(): boolean {
    return this.state === "disposed" || this.isolate.isDisposed;
  }

  heapBytes(): number {
    if (this.disposed) return 0;
    const stats = this.isolate.getHeapStatisticsSync();
    return stats.total_heap_size + stats.externally_allocated_size;
  }

  #startTimer(id: number, ms: number): void {
    if (this.disposed || this.#timers.size >= MAX_HOST_TIMERS) return;
    const delay = Math.min(Math.max(0, ms), this.limits?.timeoutMs ?? 10_000);
    this.#timers.set(
      id,
      setTimeout(() => {
        this.#timers.delete(id);
        if (this.disposed) return;
        this.#fireTimer.apply(undefined, [id], { timeout: this.#entryTimeout() }).catch((error: unknown) => {
          const body = this.#classifyThrown(error, "timer");
          this.kill(body.code === "FN_004" ? "FN_500" : body.code, body.message);
        });
      }, delay),
    );
  }

  /** isolated-vm's timeout for one entry into the isolate; wall-clock based, hence the margin. */
  #entryTimeout(): number {
    const cpuMs = this.limits?.cpuMs ?? 50;
    return Math.max(cpuMs * 2, cpuMs + 50);
  }

  #clearTimer(id: number): void {
    const timer = this.#timers.get(id);
    if (timer) clearTimeout(timer);
    this.#timers.delete(id);
  }

  #fetch(callId: number, invocationId: string, req: BridgeRequest): void {
    const record = this.inflight.get(invocationId);
    const reply = (ok: boolean, value: unknown) => this.#reply(callId, ok, value, "fetch result");
    if (!record) {
      reply(false, { message: "fetch() is only available while handling a request" });
      return;
    }
    if (!this.limits?.egress) {
      reply(false, {
        message: 'outbound fetch is disabled for this function: set "egress": true in kumo.json',
      });
      return;
    }
    bridgeFetch(req, this.#hooks.fetchPolicy, record.budget).then(
      (response) => reply(true, response),
      (error: unknown) => reply(false, { message: error instanceof Error ? error.message : String(error) }),
    );
  }

  /** Answers a host call the isolate is waiting on (fetch, crypto.subtle) through its `deliver` entry. */
  #reply(callId: number, ok: boolean, value: unknown, what: string): void {
    if (this.disposed) return;
    const { ivm } = this.#hooks;
    let copy: unknown;
    try {
      copy = new ivm.ExternalCopy(value).copyInto();
    } catch (error) {
      copy = new ivm.ExternalCopy({ name: "OperationError", message: String(error) }).copyInto();
      ok = false;
    }
    this.#deliver
      .apply(undefined, [callId, ok, copy], { timeout: this.#entryTimeout() })
      .catch((error: unknown) => {
        const body = this.#classifyThrown(error, what);
        this.kill(body.code === "FN_004" ? "FN_500" : body.code, body.message);
      });
  }

  #subtleCall(callId: number, method: string, args: unknown[]): void {
    this.#subtle.call(method, Array.isArray(args) ? args : []).then(
      (value) => this.#reply(callId, true, value, "crypto result"),
      (error: unknown) => this.#reply(callId, false, subtleFailure(error), "crypto result"),
    );
  }

  #waitDone(invocationId: string, logs: DispatchOutcome["logs"]): void {
    const record = this.inflight.get(invocationId);
    if (record) {
      clearTimeout(record.wallTimer);
      this.inflight.delete(invocationId);
    }
    if (logs.length > 0) this.#hooks.lateLogs(invocationId, this.#mapLogs(toLines(logs)));
  }
}

/**
 * The isolate's answer for the common case (ok, no logs, no waitUntil, a string body) is one string,
 * `status \n headers \n body`, which crosses the boundary without a structured copy. Neither the
 * status nor the NUL-joined headers can contain a newline; the body is everything after the second.
 */
function fastOutcome(value: string): DispatchOutcome {
  const first = value.indexOf("\n");
  const second = value.indexOf("\n", first + 1);
  return {
    ok: true,
    status: Number(value.slice(0, first)),
    headers: value.slice(first + 1, second),
    body: value.slice(second + 1),
    logs: [],
    waits: 0,
  };
}

export function errorResult(code: ErrorCode, message: string, cold: boolean, details?: unknown): WireResult {
  const error: ErrorBody = details === undefined ? { code, message } : { code, message, details };
  return {
    status: 0,
    headers: "content-type\0application/json",
    body: encoder.encode(JSON.stringify({ error: { code, message } })),
    error,
    cold,
    logs: [],
  };
}
