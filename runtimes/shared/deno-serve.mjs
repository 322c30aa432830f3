// Deno.serve as Deno Deploy and Supabase edge functions call it at the top of a module: instead of
// listening, Kumo keeps the handler and runs it for each invocation (Request -> Response). Shared
// by the edge isolate bootstrap and the node/bun/deno shim.

/**
 * Deno.serve's three call forms: (handler), (options, handler), ({ ...options, handler }).
 * @param {unknown[]} args
 * @returns {{ handler: Function, options: Record<string, any> }}
 */
export function serveArguments(args) {
  const [first, second] = args;
  if (typeof first === "function") return { handler: first, options: {} };
  if (typeof second === "function") return { handler: second, options: /** @type {any} */ (first) ?? {} };
  const options = /** @type {any} */ (first) ?? {};
  if (typeof options.handler === "function") return { handler: options.handler, options };
  throw new TypeError(
    "Deno.serve: expected a handler function, Deno.serve(handler) or Deno.serve(options, handler)",
  );
}

/**
 * A Deno.serve that captures its handler. The returned server object is what Deno's is made of
 * (finished, addr, shutdown, ref, unref), so code that keeps it keeps working.
 * @returns {{ serve: (...args: unknown[]) => object, captured: () => Function | undefined }}
 */
export function capturingServe() {
  /** @type {Function | undefined} */
  let handler;
  const serve = (...args) => {
    const parsed = serveArguments(args);
    if (handler) throw new TypeError("Deno.serve was called twice: a function serves one handler");
    handler = parsed.handler;
    const addr = { transport: "tcp", hostname: "0.0.0.0", port: Number(parsed.options.port ?? 8000) };
    return {
      finished: new Promise(() => {}),
      addr,
      shutdown: async () => {},
      ref() {},
      unref() {},
    };
  };
  return { serve, captured: () => handler };
}

/** The second argument a Deno.serve handler gets. */
export function serveInfo(remoteAddress) {
  return {
    remoteAddr: { transport: "tcp", hostname: remoteAddress ?? "0.0.0.0", port: 0 },
    completed: Promise.resolve(),
  };
}
