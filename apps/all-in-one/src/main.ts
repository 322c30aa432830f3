import { parseArgs } from "node:util";
import { LaunchError } from "./launch-error.ts";

const USAGE = `Usage: npm start [-- --port N] [-- --data-dir DIR]

Runs every Kumo service in one process (the gateway, builder, autoscaler and scheduler, the same
start()s that run them apart), creates a "dev" tenant on first start and prints the URL and its
admin key. Stop it with Ctrl-C.

  --port N         gateway port (default 8080, or KUMO_PORT)
  --data-dir DIR   where local state is kept (default ./.kumo, or KUMO_DATA_DIR)`;

/** The flags, checked before any service is loaded (loading them takes a second or two). */
function parseFlags(argv: string[]): { port?: number; dataDir?: string } | "help" {
  let values: { port?: string | undefined; "data-dir"?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string", short: "p" },
        "data-dir": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new LaunchError("USAGE", error instanceof Error ? error.message : String(error), { hint: USAGE });
  }
  if (values.help) return "help";
  const flags: { port?: number; dataDir?: string } = {};
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65_535)
      throw new LaunchError("USAGE", `--port must be an integer 1..65535, got "${values.port}"`, {
        hint: USAGE,
      });
    flags.port = port;
  }
  if (values["data-dir"] !== undefined) flags.dataDir = values["data-dir"];
  return flags;
}

async function main(): Promise<number> {
  try {
    const flags = parseFlags(process.argv.slice(2));
    if (flags === "help") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const env = { ...process.env };
    // Not inherited by what this process spawns: their parent is this process, not the launcher.
    delete process.env.KUMO_LAUNCHER_PID;
    const { runAllInOne } = await import("./run-all-in-one.ts");
    await runAllInOne({ ...flags, env });
    return 0;
  } catch (error) {
    if (error instanceof LaunchError) {
      process.stderr.write(`error ${error.code}: ${error.message}\n${error.hint ? `${error.hint}\n` : ""}`);
      return error.exitCode;
    }
    process.stderr.write(
      `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}

process.exitCode = await main();
