import type { FastifyInstance } from "fastify";

/**
 * A `fetch` that hands each request to a fastify app's inject(): the CLI then talks to a real
 * gateway without a listening port.
 */
export function injectFetch(app: FastifyInstance): typeof fetch {
  const injected = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const headers = Object.fromEntries(new Headers(init.headers));
    const body = init.body;
    const payload =
      typeof body === "string" ? body : body instanceof Uint8Array ? Buffer.from(body) : undefined;
    const res = await app.inject({
      method: (init.method ?? "GET") as "GET",
      url: url.pathname + url.search,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined)
        responseHeaders.set(name, Array.isArray(value) ? value.join(", ") : String(value));
    }
    const empty = res.statusCode === 204 || res.statusCode === 304 || res.rawPayload.length === 0;
    return new Response(empty ? null : new Uint8Array(res.rawPayload), {
      status: res.statusCode,
      headers: responseHeaders,
    });
  };
  return injected as typeof fetch;
}
