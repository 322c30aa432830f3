import { resolve } from "node:path";
import type { Command } from "../command.ts";
import { usageError } from "../errors.ts";
import { DevServer } from "../local/dev-server.ts";
import { loadLocalFunction } from "../local/local-function.ts";
import { createLocalRunner } from "../local/local-runner.ts";
import { logLineText } from "../local/log-line-text.ts";

const DEFAULT_PORT = 8787;

export const devCommand: Command = {
  name: "dev",
  summary: "Run a function locally on 127.0.0.1:8787 (no platform), reloading on save",
  help: `Usage: kumo dev [dir] [--port N] [--host H]

Serves the function in dir (default: .) on http://127.0.0.1:8787/ without a Kumo platform, as
\`wrangler dev\` does: every request is one invocation, answered as the deployed function would
answer it. Edge functions run in the platform's own isolate runtime; node, bun, deno and python
functions in their runtime shim on this machine's interpreter (bun, deno and python3 must be on
PATH; node is the one running kumo). go and container functions do not run locally.

The environment is kumo.json "env" plus the directory's .env (KEY=value lines, never uploaded),
which also stands in for the secrets kumo.json names. Saving a file (or kumo.json, or .env) reloads
the function in a fresh isolate or process; a reload that fails keeps the previous code serving.
Each request is printed with its status and duration, then the function's console lines.
Stop with Ctrl-C.

  --port N   port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host H   address to listen on (default 127.0.0.1)`,
  options: { port: { type: "string", short: "p" }, host: { type: "string" } },
  async run(context, args) {
    args.atMost(1);
    const port = args.int("port", { max: 65_535 }) ?? DEFAULT_PORT;
    const host = args.string("host") ?? "127.0.0.1";
    if (host === "") throw usageError("--host must not be empty");
    const dir = resolve(context.io.cwd, args.optional(0) ?? ".");
    const fn = await loadLocalFunction(dir);
    const { out } = context;
    const runner = await createLocalRunner(fn, context.io.env);
    let server: DevServer | undefined;
    try {
      await runner.load(fn);
      server = new DevServer(fn, runner, {
        host,
        port,
        debounceMs: 100,
        onRequest(method, path, result, durationMs) {
          const failed = result.error ? ` ${result.error.code}: ${result.error.message}` : "";
          out.line(`${method} ${path} ${result.status} ${durationMs.toFixed(1)} ms${failed}`);
          for (const line of result.logs) out.line(logLineText(line));
        },
        onReload({ changed, durationMs, error }) {
          const what = changed.length > 0 ? changed.join(", ") : "files";
          if (error === undefined) out.line(`Reloaded (${what} changed) in ${durationMs.toFixed(0)} ms`);
          else {
            out.line(`Reload failed (${what} changed); the previous code keeps serving:`);
            out.line(`  ${error instanceof Error ? error.message : String(error)}`);
          }
        },
      });
      const url = await server.start().catch((error: unknown) => {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE")
          throw usageError(`port ${port} on ${host} is in use`, "pass --port N (0 picks a free port)");
        throw error;
      });
      out.line(`Serving ${fn.name} (${fn.config.runtime}) at ${url}`);
      out.line(`  runtime: ${runner.label}`);
      out.line(`  env: ${Object.keys(fn.env).sort().join(", ") || "(none)"} (kumo.json env, .env)`);
      if (fn.missingSecrets.length > 0) {
        out.warn(`kumo.json names secrets that .env does not set: ${fn.missingSecrets.join(", ")}`);
      }
      out.line(`  watching ${dir} for changes; Ctrl-C to stop`);
      await new Promise<void>((done) => {
        if (context.io.signal.aborted) done();
        else context.io.signal.addEventListener("abort", () => done(), { once: true });
      });
      out.line("Stopped.");
    } finally {
      await server?.stop();
      await runner.close();
    }
  },
};
