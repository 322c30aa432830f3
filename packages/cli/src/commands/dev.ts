import type { Command } from "../command.ts";

export const devCommand: Command = {
  name: "dev",
  summary: "Run the whole platform locally in one process",
  help: `Usage: kumo dev [--port N] [--data-dir DIR]

Starts every service in one process, creates a "dev" tenant on first start and prints the URL and
its admin key. Stop it with Ctrl-C. If the port is taken it says so and exits: pick another.

  --port N         gateway port (default: KUMO_PORT, else 8080)
  --data-dir DIR   where local state is kept (default: ./.kumo)`,
  options: { port: { type: "string", short: "p" }, "data-dir": { type: "string" } },
  async run(_context, args) {
    args.atMost(0);
    const port = args.int("port", { min: 1, max: 65_535 });
    const dataDir = args.string("data-dir");
    // Loaded only here: it pulls in every service, which the other commands never need.
    const { runDev } = await import("../dev.ts");
    await runDev({
      ...(port === undefined ? {} : { port }),
      ...(dataDir === undefined ? {} : { dataDir }),
    });
  },
};
