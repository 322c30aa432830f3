import type {
  CreateFunctionInput,
  Deployment,
  DraftRunInput,
  DraftRunResult,
  FunctionDraftRunInput,
  FunctionInfo,
  Invocation,
  LiveLogLine,
  Page,
  Queued,
  StepContext,
  StepRunResult,
  VersionInfo,
} from "./api-types.ts";
import { KumoApiError } from "./kumo-api-error.ts";
import { parseSse } from "./sse.ts";

export interface KumoClientOptions {
  /** The gateway's base URL, e.g. "http://127.0.0.1:8080". */
  url: string;
  /** An API key of the tenant (its role decides what the client may do). */
  key: string;
  /** fetch to use; default the global one (Node 20+, Bun, Deno, browsers). */
  fetch?: typeof fetch;
  /** Further attempts after a retriable failure (default 3); 0 turns retries off. */
  retries?: number;
  /** First retry delay (default 200 ms); doubles per attempt, with jitter, at most 5 s. */
  retryBaseMs?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface AsyncOptions extends RequestOptions {
  /** Names one logical call: repeats (and the client's own retries) run it once. Default: a fresh key per call. */
  idempotencyKey?: string;
}

export interface WaitOptions extends RequestOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** First poll interval (default 50 ms), growing to 1 s. */
  intervalMs?: number;
}

/** A function's HTTP answer to a sync invoke. */
export interface InvokeResponse {
  status: number;
  headers: Headers;
  invocationId: string | null;
  version: number | null;
  body: Uint8Array;
  text(): string;
  json<T = unknown>(): T;
}

type Body = string | Uint8Array | Record<string, unknown> | unknown[] | null | undefined;

interface Call {
  method: string;
  path: string;
  body?: Body;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Whether repeating the call is safe: GET/PUT/DELETE, or a POST carrying an idempotency key. */
  idempotent: boolean;
}

const FINAL = new Set(["succeeded", "failed"]);

/**
 * Kumo's public API over fetch, with no other dependency: it runs on Node 20+, Bun, Deno and in
 * browsers. Retries: network failures, 429 and 502/503/504 are retried with backoff (honouring
 * Retry-After) when the call is safe to repeat: reads, PUT and DELETE, and the async calls, which
 * carry a `kumo-idempotency-key` (one per logical call, kept across its retries, so the platform
 * runs it once). A sync invoke or step run is retried only on 429, which the platform answers
 * before running anything.
 */
export class KumoClient {
  readonly #base: string;
  readonly #key: string;
  readonly #fetch: typeof fetch;
  readonly #retries: number;
  readonly #retryBaseMs: number;

  constructor(options: KumoClientOptions) {
    this.#base = options.url.replace(/\/+$/, "");
    this.#key = options.key;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#retries = options.retries ?? 3;
    this.#retryBaseMs = options.retryBaseMs ?? 200;
  }

  // --- functions and versions -----------------------------------------------------------------

  /** The tenant's functions, one page (`limit` 1–500, `cursor` from the previous page). */
  listFunctions(query: { limit?: number; cursor?: string } = {}, options?: RequestOptions) {
    return this.#json<Page<FunctionInfo>>({
      method: "GET",
      path: `/v1/functions${qs(query)}`,
      idempotent: true,
      ...opts(options),
    });
  }

  getFunction(name: string, options?: RequestOptions) {
    return this.#json<FunctionInfo>({
      method: "GET",
      path: `/v1/functions/${seg(name)}`,
      idempotent: true,
      ...opts(options),
    });
  }

  createFunction(input: CreateFunctionInput, options?: RequestOptions) {
    return this.#json<FunctionInfo>({
      method: "POST",
      path: "/v1/functions",
      body: input,
      idempotent: false,
      ...opts(options),
    });
  }

  updateFunction(name: string, config: Record<string, unknown>, options?: RequestOptions) {
    return this.#json<FunctionInfo>({
      method: "PATCH",
      path: `/v1/functions/${seg(name)}`,
      body: { config },
      idempotent: true,
      ...opts(options),
    });
  }

  async deleteFunction(name: string, options?: RequestOptions): Promise<void> {
    await this.#send({
      method: "DELETE",
      path: `/v1/functions/${seg(name)}`,
      idempotent: true,
      ...opts(options),
    });
  }

  /** Deploys source files (`{path: content}`, kumo.json among them or `config`); edge deploys finish before this returns. */
  deploy(
    name: string,
    input: { files: Record<string, string>; config?: Record<string, unknown> },
    options?: RequestOptions,
  ) {
    return this.#json<Deployment>({
      method: "POST",
      path: `/v1/functions/${seg(name)}/deployments`,
      body: input,
      idempotent: false,
      ...opts(options),
    });
  }

  getDeployment(name: string, id: string, options?: RequestOptions) {
    return this.#json<Deployment>({
      method: "GET",
      path: `/v1/functions/${seg(name)}/deployments/${seg(id)}`,
      idempotent: true,
      ...opts(options),
    });
  }

  listVersions(name: string, query: { limit?: number; cursor?: string } = {}, options?: RequestOptions) {
    return this.#json<Page<VersionInfo>>({
      method: "GET",
      path: `/v1/functions/${seg(name)}/versions${qs(query)}`,
      idempotent: true,
      ...opts(options),
    });
  }

  getVersion(name: string, version: number, options?: RequestOptions) {
    return this.#json<VersionInfo>({
      method: "GET",
      path: `/v1/functions/${seg(name)}/versions/${version}`,
      idempotent: true,
      ...opts(options),
    });
  }

  /** Points an alias at versions by weight (weights sum to 100). */
  setAlias(
    name: string,
    alias: string,
    routing: { version: number; weight: number }[],
    options?: RequestOptions,
  ) {
    return this.#json<unknown>({
      method: "PUT",
      path: `/v1/functions/${seg(name)}/aliases/${seg(alias)}`,
      body: { routing },
      idempotent: true,
      ...opts(options),
    });
  }

  /** Moves `live` back to the previous version (or `to`). */
  rollback(name: string, to?: number, options?: RequestOptions) {
    return this.#json<unknown>({
      method: "POST",
      path: `/v1/functions/${seg(name)}/rollback`,
      body: to === undefined ? {} : { to },
      idempotent: false,
      ...opts(options),
    });
  }

  // --- invocations ---------------------------------------------------------------------------

  /** A sync invoke of `name` (`fn@alias`, `fn@v3`): the function's own HTTP answer, whatever its status. */
  async invoke(name: string, body?: Body, options?: RequestOptions): Promise<InvokeResponse> {
    const res = await this.#send(
      {
        method: "POST",
        path: `/v1/functions/${seg(name)}/invoke`,
        body,
        idempotent: false,
        ...opts(options),
      },
      { functionAnswers: true },
    );
    const bytes = new Uint8Array(await res.arrayBuffer());
    const version = res.headers.get("kumo-version");
    return {
      status: res.status,
      headers: res.headers,
      invocationId: res.headers.get("kumo-invocation-id"),
      version: version === null ? null : Number(version),
      body: bytes,
      text: () => new TextDecoder().decode(bytes),
      json: <T>() => JSON.parse(new TextDecoder().decode(bytes)) as T,
    };
  }

  /** Queues an invocation (202): at most once per idempotency key. */
  invokeAsync(name: string, body?: Body, options?: AsyncOptions): Promise<Queued> {
    return this.#json<Queued>({
      method: "POST",
      path: `/v1/functions/${seg(name)}/invoke`,
      body,
      idempotent: true,
      headers: asyncHeaders(options),
      signal: options?.signal,
    });
  }

  getInvocation(id: string, options?: RequestOptions) {
    return this.#json<Invocation>({
      method: "GET",
      path: `/v1/invocations/${seg(id)}`,
      idempotent: true,
      ...opts(options),
    });
  }

  /** Polls an invocation until it succeeded or failed (FN_002 after `timeoutMs`). */
  async waitForInvocation(id: string, options: WaitOptions = {}): Promise<Invocation> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    let interval = options.intervalMs ?? 50;
    for (;;) {
      try {
        const invocation = await this.getInvocation(id, options);
        if (FINAL.has(invocation.status)) return invocation;
      } catch (error) {
        // A just-queued invocation may not be readable on every gateway yet.
        if (!(error instanceof KumoApiError && error.code === "FN_001")) throw error;
      }
      if (Date.now() + interval > deadline) {
        throw new KumoApiError(
          "FN_002",
          `invocation ${id} did not finish within ${options.timeoutMs ?? 60_000} ms`,
          504,
        );
      }
      await sleep(interval, options.signal);
      interval = Math.min(1000, interval * 2);
    }
  }

  /** Queues an invocation and waits for its outcome. */
  async invokeAndWait(
    name: string,
    body?: Body,
    options: AsyncOptions & WaitOptions = {},
  ): Promise<Invocation> {
    const queued = await this.invokeAsync(name, body, options);
    return this.waitForInvocation(queued.invocationId, options);
  }

  // --- workflow steps and drafts ---------------------------------------------------------------

  /** Runs `step(input, context)` of a deployed function: output, nextPath, error?, logs. */
  runStep(
    name: string,
    input: unknown,
    context: StepContext = {},
    options?: RequestOptions,
  ): Promise<StepRunResult> {
    return this.#json<StepRunResult>({
      method: "POST",
      path: `/v1/functions/${seg(name)}/run`,
      body: { input, context },
      idempotent: false,
      ...opts(options),
    });
  }

  /** Queues a step run; the function's destination gets the step object. */
  runStepAsync(
    name: string,
    input: unknown,
    context: StepContext = {},
    options?: AsyncOptions,
  ): Promise<Queued> {
    return this.#json<Queued>({
      method: "POST",
      path: `/v1/functions/${seg(name)}/run`,
      body: { input, context },
      idempotent: true,
      headers: asyncHeaders(options),
      signal: options?.signal,
    });
  }

  /** Runs code that is not deployed (`POST /v1/run`): a step with `input`, or HTTP with `request`. */
  draftRun(input: DraftRunInput, options?: RequestOptions): Promise<DraftRunResult> {
    return this.#json<DraftRunResult>({
      method: "POST",
      path: "/v1/run",
      body: input,
      idempotent: false,
      ...opts(options),
    });
  }

  /** Runs unsaved code of a function with its env and secrets (the editor's Test). */
  draftRunFunction(name: string, input: FunctionDraftRunInput, options?: RequestOptions) {
    return this.#json<unknown>({
      method: "POST",
      path: `/v1/functions/${seg(name)}/draft-runs`,
      body: input,
      idempotent: false,
      ...opts(options),
    });
  }

  // --- logs ------------------------------------------------------------------------------------

  /** Follows a function's logs live (SSE) until `signal` aborts or the server ends the stream. */
  async *streamLogs(
    name: string,
    filter: { level?: string; q?: string; invocationId?: string } = {},
    options?: RequestOptions,
  ): AsyncGenerator<LiveLogLine> {
    const res = await this.#send({
      method: "GET",
      path: `/v1/functions/${seg(name)}/logs${qs({ ...filter, follow: "1" })}`,
      idempotent: true,
      headers: { accept: "text/event-stream", ...options?.headers },
      signal: options?.signal,
    });
    if (!res.body) return;
    for await (const event of parseSse(res.body)) {
      if (event.event === "log") yield JSON.parse(event.data) as LiveLogLine;
    }
  }

  // --- transport -------------------------------------------------------------------------------

  async #json<T>(call: Call): Promise<T> {
    const res = await this.#send(call);
    const text = await res.text();
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  /** One call with its retries; an error answer throws KumoApiError (unless the function answered). */
  async #send(call: Call, mode: { functionAnswers?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#key}`, ...call.headers };
    let payload: string | Uint8Array | undefined;
    if (typeof call.body === "string" || call.body instanceof Uint8Array) {
      payload = call.body;
      headers["content-type"] ??=
        typeof call.body === "string" ? "text/plain; charset=utf-8" : "application/octet-stream";
    } else if (call.body !== undefined && call.body !== null) {
      payload = JSON.stringify(call.body);
      headers["content-type"] ??= "application/json";
    } else if (call.method === "POST" && !mode.functionAnswers) {
      payload = "{}";
      headers["content-type"] ??= "application/json";
    }
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(`${this.#base}${call.path}`, {
          method: call.method,
          headers,
          ...(payload === undefined ? {} : { body: payload as NonNullable<RequestInit["body"]> }),
          ...(call.signal ? { signal: call.signal } : {}),
        });
      } catch (error) {
        if (call.signal?.aborted) throw error;
        if (call.idempotent && attempt < this.#retries) {
          await sleep(this.#delay(attempt, null), call.signal);
          continue;
        }
        throw new KumoApiError("network", `${call.method} ${call.path} failed: ${String(error)}`, 0, {
          cause: String(error),
        });
      }
      const retriable =
        res.status === 429 ||
        (call.idempotent && (res.status === 502 || res.status === 503 || res.status === 504));
      // A function's own 5xx on a sync invoke is its answer, not the platform's.
      const platformError = !mode.functionAnswers || res.headers.get("kumo-invocation-id") === null;
      if (retriable && platformError && attempt < this.#retries) {
        await res.body?.cancel().catch(() => undefined);
        await sleep(this.#delay(attempt, res.headers.get("retry-after")), call.signal);
        continue;
      }
      if (res.ok || (mode.functionAnswers && !platformError)) return res;
      throw await apiError(res);
    }
  }

  #delay(attempt: number, retryAfter: string | null): number {
    const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 30_000);
    const base = Math.min(5000, this.#retryBaseMs * 2 ** attempt);
    return base / 2 + Math.random() * (base / 2);
  }
}

async function apiError(res: Response): Promise<KumoApiError> {
  const text = await res.text().catch(() => "");
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (error?.code) return new KumoApiError(error.code, error.message ?? "", res.status, error.details);
  } catch {}
  return new KumoApiError(res.status >= 500 ? "FN_500" : "FN_006", text || `HTTP ${res.status}`, res.status);
}

function asyncHeaders(options: AsyncOptions | undefined): Record<string, string> {
  return {
    ...options?.headers,
    "kumo-invocation-type": "async",
    "kumo-idempotency-key": options?.idempotencyKey ?? globalThis.crypto.randomUUID(),
  };
}

function opts(options: RequestOptions | undefined): Pick<Call, "headers" | "signal"> {
  return { ...(options?.headers ? { headers: options.headers } : {}), signal: options?.signal };
}

function seg(value: string): string {
  return encodeURIComponent(value).replace(/%40/g, "@");
}

function qs(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
