import { parseSse, type SseEvent } from "@kumo/client";
import { type ErrorCode, isErrorCode, KumoError } from "@kumo/core";
import { CliError, EXIT_CODES, interrupted, unreachable } from "./errors.ts";

export interface ApiClientOptions {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080 */
  url: string;
  /** API key sent as a bearer token; absent for unauthenticated calls. */
  apiKey?: string;
  fetch?: typeof fetch;
  /** Cancels every request of this client (Ctrl-C). */
  signal?: AbortSignal;
  userAgent?: string;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is, with its content type. */
  body?: { data: Uint8Array | string; contentType: string };
  headers?: Record<string, string>;
  /** Cancels this request only. */
  signal?: AbortSignal;
  /** Leaves the API key out (calls to function code that must not see it). */
  anonymous?: boolean;
}

/** A list page as every list endpoint returns it. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * A small fetch-based client of the Kumo /v1 API. Non-2xx answers become a `KumoError` built from
 * the server's `{ error: { code, message, details } }` envelope.
 */
export class ApiClient {
  readonly url: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #signal: AbortSignal | undefined;
  readonly #userAgent: string;

  constructor(options: ApiClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? fetch;
    this.#signal = options.signal;
    this.#userAgent = options.userAgent ?? "kumo-cli";
  }

  /** Sends a request and returns the parsed JSON body (undefined for 204 or an empty body). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (!response.ok) throw await errorFromResponse(response, method, path);
    const text = await response.text();
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError("HTTP", EXIT_CODES.error, `${method} ${path}: the server answered non-JSON`, {
        details: { status: response.status, body: text.slice(0, 500) },
      });
    }
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>("GET", path, options);
  }

  /** Sends a request and returns the raw response, whatever its status. Throws only on transport errors. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { "user-agent": this.#userAgent, ...options.headers };
    if (this.#apiKey !== undefined && !options.anonymous) headers.authorization = `Bearer ${this.#apiKey}`;
    let body: Uint8Array | string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers["content-type"] = "application/json";
    } else if (options.body !== undefined) {
      body = options.body.data;
      headers["content-type"] = options.body.contentType;
    }
    const signals = [options.signal, this.#signal].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await this.#fetch(this.urlOf(path, options.query), {
        method,
        headers,
        body,
        signal: signals.length === 0 ? undefined : AbortSignal.any(signals),
      });
    } catch (error) {
      if (signals.some((s) => s.aborted)) throw interrupted();
      throw unreachable(this.url, error);
    }
  }

  /**
   * Opens a server-sent-event stream. If the server answers with plain JSON instead (an endpoint
   * that does not stream yet), that body is returned as `fallback` so callers can poll.
   */
  async stream(
    path: string,
    options: RequestOptions = {},
  ): Promise<{ events: AsyncGenerator<SseEvent>; fallback: null } | { events: null; fallback: unknown }> {
    const response = await this.send("GET", path, {
      ...options,
      headers: { accept: "text/event-stream", ...options.headers },
    });
    if (!response.ok) throw await errorFromResponse(response, "GET", path);
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || response.body === null) {
      const text = await response.text();
      return { events: null, fallback: text === "" ? null : safeJson(text) };
    }
    return { events: abortableEvents(response.body, options.signal ?? this.#signal), fallback: null };
  }

  urlOf(path: string, query?: Record<string, QueryValue>): string {
    const url = new URL(this.url + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }
}

async function* abortableEvents(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): AsyncGenerator<SseEvent> {
  try {
    yield* parseSse(body);
  } catch (error) {
    // The user pressing Ctrl-C ends a follow normally; anything else is a broken stream.
    if (signal?.aborted) return;
    throw error;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Status codes of answers that carry no Kumo envelope (a proxy, an old server, a missing route). */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  401: "FN_009",
  403: "FN_009",
  413: "FN_010",
  429: "FN_007",
};

/** Turns a non-2xx response into the error to throw: the server's own, or a described HTTP failure. */
export async function errorFromResponse(response: Response, method: string, path: string): Promise<Error> {
  const text = await response.text().catch(() => "");
  const parsed = safeJson(text);
  const envelope = envelopeOf(parsed);
  if (envelope) {
    const code = isErrorCode(envelope.code) ? envelope.code : "FN_500";
    return new KumoError(code, envelope.message, { details: envelope.details, status: response.status });
  }
  const mapped = CODE_OF_STATUS[response.status];
  const serverMessage = messageOf(parsed) ?? (text.slice(0, 200) || response.statusText);
  if (mapped) return new KumoError(mapped, serverMessage, { status: response.status });
  if (response.status === 404 || response.status === 405 || response.status === 501) {
    return new CliError(
      "HTTP",
      EXIT_CODES.error,
      `the server does not support ${method} ${path.split("?")[0]} (HTTP ${response.status}: ${serverMessage})`,
      { hint: "this command needs a newer gateway", details: { status: response.status } },
    );
  }
  return new CliError(
    "HTTP",
    EXIT_CODES.error,
    `${method} ${path} failed: HTTP ${response.status} ${serverMessage}`,
    {
      details: { status: response.status },
    },
  );
}

interface Envelope {
  code: string;
  message: string;
  details?: unknown;
}

function envelopeOf(value: unknown): Envelope | null {
  if (typeof value !== "object" || value === null || !("error" in value)) return null;
  const error = value.error;
  if (typeof error !== "object" || error === null) return null;
  if (!("code" in error) || typeof error.code !== "string") return null;
  const message = "message" in error && typeof error.message === "string" ? error.message : error.code;
  return { code: error.code, message, details: "details" in error ? error.details : undefined };
}

function messageOf(value: unknown): string | undefined {
  if (
    typeof value === "object" &&
    value !== null &&
    "message" in value &&
    typeof value.message === "string"
  ) {
    return value.message;
  }
  return undefined;
}
