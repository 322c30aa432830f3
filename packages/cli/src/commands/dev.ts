import type { Command } from "../command.ts";
import { CliError, EXIT_CODES } from "../errors.ts";

/** What `src/dev.ts` (the all-in-one launcher) exports. */
interface DevModule {
  runDev(args: { port?: number; dataDir?: string }): Promise<void>;
}

export const devCommand: Command = {
  name: "dev",
  summary: "Run the whole platform locally in one process",
  help: `Usage: kumo dev [--port N] [--data-dir DIR]

Starts Postgres/NATS if needed, the gateway, builder, autoscaler and scheduler, and prints the
URL and an admin key. Stop it with Ctrl-C.

  --port N         gateway port
  --data-dir DIR   where local state is kept`,
  options: { port: { type: "string", short: "p" }, "data-dir": { type: "string" } },
  async run(_context, args) {
    args.atMost(0);
    const port = args.int("port", { min: 1, max: 65_535 });
    const dataDir = args.string("data-dir");
    const devModule = await loadDevModule();
    await devModule.runDev({
      ...(port === undefined ? {} : { port }),
      ...(dataDir === undefined ? {} : { dataDir }),
    });
  },
};

// Loaded only when `kumo dev` runs: it pulls in every service, which other commands never need.
async function loadDevModule(): Promise<DevModule> {
  const specifier = new URL("../dev.ts", import.meta.url).href;
  let loaded: unknown;
  try {
    loaded = await import(specifier);
  } catch (error) {
    const missing = error instanceof Error && "code" in error && error.code === "ERR_MODULE_NOT_FOUND";
    if (!missing || !String(error.message).includes("dev.ts")) throw error;
    throw new CliError(
      "UNAVAILABLE",
      EXIT_CODES.error,
      "`kumo dev` is not available in this build yet (src/dev.ts is missing)",
    );
  }
  if (
    typeof loaded === "object" &&
    loaded !== null &&
    "runDev" in loaded &&
    typeof loaded.runDev === "function"
  ) {
    return loaded as DevModule;
  }
  throw new CliError("UNAVAILABLE", EXIT_CODES.error, "src/dev.ts does not export runDev()");
}
