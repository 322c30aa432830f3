import { type ParseArgsConfig, parseArgs } from "node:util";
import { usageError } from "./errors.ts";

export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** Flags every command accepts. */
export const GLOBAL_OPTIONS = {
  json: { type: "boolean" },
  url: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

type Value = string | boolean | (string | boolean)[] | undefined;

/**
 * A command's parsed argv, with typed accessors that turn every mistake into a usage error
 * (exit 2) naming the flag.
 */
export class ParsedArgs {
  readonly positionals: readonly string[];
  readonly #values: Record<string, Value>;

  constructor(values: Record<string, Value>, positionals: readonly string[]) {
    this.#values = values;
    this.positionals = positionals;
  }

  string(name: string): string | undefined {
    const value = this.#values[name];
    if (Array.isArray(value)) return lastString(value);
    return typeof value === "string" ? value : undefined;
  }

  strings(name: string): string[] {
    const value = this.#values[name];
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
    return typeof value === "string" ? [value] : [];
  }

  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** A non-negative integer flag; `v3` is accepted where versions are meant. */
  int(name: string, options: { min?: number; max?: number; version?: boolean } = {}): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    return parseIntArg(raw, `--${name}`, options);
  }

  /** The positional at `index`, or a usage error naming what is missing. */
  required(index: number, what: string): string {
    const value = this.positionals[index];
    if (value === undefined || value === "") throw usageError(`missing ${what}`);
    return value;
  }

  optional(index: number): string | undefined {
    return this.positionals[index];
  }

  rest(from: number): string[] {
    return this.positionals.slice(from);
  }

  /** Fails when more positionals were given than the command takes. */
  atMost(count: number): this {
    if (this.positionals.length > count) {
      throw usageError(`unexpected argument "${this.positionals[count]}"`);
    }
    return this;
  }
}

/** Parses an integer argument; with `version`, "v3" means 3. */
export function parseIntArg(
  raw: string,
  what: string,
  options: { min?: number; max?: number; version?: boolean } = {},
): number {
  const text = options.version ? raw.replace(/^v/i, "") : raw;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = options.max === undefined ? `>= ${min}` : `${min}..${max}`;
    throw usageError(
      `${what} must be an integer ${range}${options.version ? " (e.g. 3 or v3)" : ""}, got "${raw}"`,
    );
  }
  return value;
}

function lastString(values: (string | boolean)[]): string | undefined {
  for (let i = values.length - 1; i >= 0; i--) {
    const value = values[i];
    if (typeof value === "string") return value;
  }
  return undefined;
}

/** Parses a command's argv against its own options plus the global ones; unknown flags are usage errors. */
export function parseCommandArgs(argv: readonly string[], options: OptionSpecs): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return new ParsedArgs(values, positionals);
  } catch (error) {
    if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS")) {
      throw usageError(cleanParseMessage(error.message));
    }
    throw error;
  }
}

/** node's messages end with advice about "--" that does not apply here; keep the first sentence. */
function cleanParseMessage(message: string): string {
  const first = message.split(/\. (?=To specify|Did you)/)[0] ?? message;
  return first.replace(/^Unknown option/, "unknown option").replace(/^Option/, "option");
}

/**
 * Splits argv into the command name and the rest. Global flags may come before the command
 * (`kumo --json functions`), so their values are skipped when looking for it.
 */
export function splitCommand(argv: readonly string[]): { command: string | undefined; rest: string[] } {
  const takesValue = new Set(["--url", "--key"]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") return { command: argv[i + 1], rest: [...argv.slice(0, i), ...argv.slice(i + 2)] };
    if (takesValue.has(arg)) {
      i++;
      continue;
    }
    if (!arg.startsWith("-")) return { command: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { command: undefined, rest: [...argv] };
}
