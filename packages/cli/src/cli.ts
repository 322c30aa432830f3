import { readFile } from "node:fs/promises";
import type { CliIo } from "./cli-io.ts";
import type { Command } from "./command.ts";
import { CommandContext } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";
import { CliError, EXIT_CODES, type ExitCode, exitCodeOf, usageError } from "./errors.ts";
import { Output } from "./output.ts";
import { parseCommandArgs, splitCommand } from "./parsed-args.ts";

const GLOBAL_HELP = `Global flags:
  --json         print machine-readable JSON on stdout (errors as JSON on stderr)
  --url URL      gateway URL (default: KUMO_URL, then the config file, then http://127.0.0.1:8080)
  --key KEY      API key (default: KUMO_API_KEY, then the key stored by \`kumo login\`)
  -h, --help     show help for a command

Exit codes: 0 ok · 1 server or function error · 2 usage error · 3 not logged in or permission denied (FN_009) · 4 not found (FN_001)`;

/**
 * Runs one CLI invocation and returns its exit code; never throws and never calls process.exit,
 * so tests run it in-process.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const { command: name, rest } = splitCommand(argv);
  const wantsJson = argv.includes("--json");
  if (name === undefined) {
    if (rest.includes("--version") || rest.includes("-v")) {
      io.stdout.write(`${await cliVersion()}\n`);
      return EXIT_CODES.ok;
    }
    const wantsHelp = rest.includes("--help") || rest.includes("-h");
    (wantsHelp ? io.stdout : io.stderr).write(`${mainHelp()}\n`);
    return wantsHelp ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (name === "help") {
    const topic = rest.find((arg) => !arg.startsWith("-"));
    const command = topic === undefined ? undefined : findCommand(topic);
    io.stdout.write(`${command ? commandHelp(command) : mainHelp()}\n`);
    return EXIT_CODES.ok;
  }

  const command = findCommand(name);
  if (command === undefined) {
    const out = new Output(io.stdout, io.stderr, { json: wantsJson });
    out.error(usageError(`unknown command "${name}"`, suggestion(name)));
    return EXIT_CODES.usage;
  }

  let context: CommandContext | undefined;
  try {
    const args = parseCommandArgs(rest, command.options);
    if (args.flag("help")) {
      io.stdout.write(`${commandHelp(command)}\n`);
      return EXIT_CODES.ok;
    }
    context = new CommandContext(io, {
      json: args.flag("json"),
      url: args.string("url"),
      key: args.string("key"),
    });
    await command.run(context, args);
    return EXIT_CODES.ok;
  } catch (error) {
    context?.progress.stop();
    const out = context?.out ?? new Output(io.stdout, io.stderr, { json: wantsJson });
    if (error instanceof CliError && error.code === "USAGE" && error.hint === undefined) {
      out.error(usageError(error.message, `run \`kumo ${command.name} --help\` for usage`));
    } else {
      out.error(error);
    }
    if (io.env.KUMO_DEBUG && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    return exitCodeOf(error);
  }
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}

function suggestion(name: string): string {
  const close = COMMANDS.filter((c) => c.name.startsWith(name.slice(0, 3)) || name.startsWith(c.name));
  const names =
    close.length > 0 ? `did you mean ${close.map((c) => `\`kumo ${c.name}\``).join(" or ")}? ` : "";
  return `${names}run \`kumo --help\` for the list of commands`;
}

export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `kumo: deploy and run functions on Kumo

Usage: kumo <command> [arguments] [flags]

Commands:
${lines.join("\n")}

${GLOBAL_HELP}

Run \`kumo <command> --help\` for the flags of one command.`;
}

export function commandHelp(command: Command): string {
  return `${command.summary}\n\n${command.help.trim()}\n\n${GLOBAL_HELP}`;
}

async function cliVersion(): Promise<string> {
  const text = await readFile(new URL("../package.json", import.meta.url), "utf8");
  const parsed: unknown = JSON.parse(text);
  const version =
    typeof parsed === "object" && parsed !== null && "version" in parsed && typeof parsed.version === "string"
      ? parsed.version
      : "unknown";
  return `kumo ${version}`;
}
