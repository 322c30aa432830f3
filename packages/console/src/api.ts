/** A coded error from the /v1 API (`{ error: { code, message } }`), or a network failure (code "NETWORK"). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The console's only way to the platform: the public /v1 API with the signed-in key. */
export class Api {
  readonly #key: string;

  constructor(key: string) {
    this.#key = key;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.send<T>("GET", path, undefined, signal);
  }

  async send<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#key}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiError(0, "NETWORK", `the gateway did not answer: ${(error as Error).message}`);
    }
    const text = await res.text();
    const json: unknown = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? text);
    }
    return json as T;
  }

  /**
   * Follows a server-sent-events route (`?follow=1`) until `signal` aborts or the server ends it.
   * Through fetch rather than EventSource, which cannot send the Authorization header (and the key
   * must not go into a URL, where logs and history would keep it).
   */
  async stream(
    path: string,
    signal: AbortSignal,
    onEvent: (event: string, data: unknown) => void,
    onOpen?: () => void,
  ): Promise<void> {
    let res: Response;
    try {
      res = await fetch(path, {
        headers: { authorization: `Bearer ${this.#key}`, accept: "text/event-stream" },
        signal,
      });
    } catch (error) {
      if (signal.aborted) return;
      throw new ApiError(0, "NETWORK", `the gateway did not answer: ${(error as Error).message}`);
    }
    if (!res.ok || !res.body) {
      const json = safeJson(await res.text()) as { error?: { code?: string; message?: string } } | undefined;
      throw new ApiError(res.status, json?.error?.code ?? `HTTP_${res.status}`, json?.error?.message ?? "");
    }
    // The server subscribes before it answers, so from here on nothing written is missed.
    onOpen?.();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          let event = "message";
          let data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data) onEvent(event, safeJson(data));
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw new ApiError(0, "NETWORK", `the stream broke: ${(error as Error).message}`);
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Path segment escaping for names and ids put into API URLs. */
export const seg = encodeURIComponent;

/** Any failure as an ApiError: a coded one as it is, anything else (a bug, a network error) as CLIENT. */
export function asApiError(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(0, "CLIENT", String(error));
}
