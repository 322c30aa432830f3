import { describe, expect, it } from "vitest";
import { parseRouting } from "../../packages/cli/src/commands/alias.ts";
import { sinceToIso } from "../../packages/cli/src/commands/logs.ts";
import { CliError } from "../../packages/cli/src/errors.ts";
import { parseFunctionRef } from "../../packages/cli/src/function-ref.ts";
import { parseCommandArgs, parseIntArg, splitCommand } from "../../packages/cli/src/parsed-args.ts";

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    const cliError = error as CliError;
    expect(cliError.exitCode).toBe(2);
    return cliError.message;
  }
  throw new Error("expected a usage error");
}

describe("cli args - command split", () => {
  it("finds the command after global flags and their values", () => {
    expect(splitCommand(["--url", "http://x", "--json", "functions", "list"])).toEqual({
      command: "functions",
      rest: ["--url", "http://x", "--json", "list"],
    });
    expect(splitCommand(["--key=abc", "whoami"])).toEqual({ command: "whoami", rest: ["--key=abc"] });
    expect(splitCommand(["--json"])).toEqual({ command: undefined, rest: ["--json"] });
  });
});

describe("cli args - option parsing", () => {
  const options = { header: { type: "string", short: "H", multiple: true }, to: { type: "string" } } as const;

  it("merges global and command options, with repeatable flags", () => {
    const args = parseCommandArgs(["fn", "-H", "a:1", "--header", "b:2", "--json", "--to", "v3"], options);
    expect(args.positionals).toEqual(["fn"]);
    expect(args.strings("header")).toEqual(["a:1", "b:2"]);
    expect(args.flag("json")).toBe(true);
    expect(args.int("to", { version: true })).toBe(3);
  });

  it("turns unknown flags and missing values into usage errors", () => {
    expect(usageMessage(() => parseCommandArgs(["--nope"], options))).toContain("unknown option '--nope'");
    expect(usageMessage(() => parseCommandArgs(["--to"], options))).toMatch(/--to/);
  });

  it("names what is missing or extra", () => {
    const args = parseCommandArgs(["a", "b"], {});
    expect(usageMessage(() => args.required(2, "alias name"))).toBe("missing alias name");
    expect(usageMessage(() => args.atMost(1))).toBe('unexpected argument "b"');
  });

  it("rejects integers that are not", () => {
    expect(parseIntArg("v12", "--to", { version: true })).toBe(12);
    expect(usageMessage(() => parseIntArg("1.5", "--limit"))).toContain("--limit must be an integer");
    expect(usageMessage(() => parseIntArg("0", "--limit", { min: 1, max: 10 }))).toContain("1..10");
    expect(usageMessage(() => parseIntArg("v3", "--limit"))).toContain('got "v3"');
  });
});

describe("cli args - alias routing", () => {
  it("parses weighted and single-version routing", () => {
    expect(parseRouting(["v3=90", "v4=10"])).toEqual([
      { version: 3, weight: 90 },
      { version: 4, weight: 10 },
    ]);
    expect(parseRouting(["4"])).toEqual([{ version: 4, weight: 100 }]);
    expect(parseRouting(["v1=50%", "v2=50%"])).toEqual([
      { version: 1, weight: 50 },
      { version: 2, weight: 50 },
    ]);
  });

  it("rejects weights that do not add up, duplicates and missing weights", () => {
    expect(usageMessage(() => parseRouting(["v3=90", "v4=20"]))).toBe("weights add up to 110, not 100");
    expect(usageMessage(() => parseRouting(["v3=50", "v3=50"]))).toContain("twice");
    expect(usageMessage(() => parseRouting(["v3", "v4=10"]))).toContain('missing weight in "v3"');
    expect(usageMessage(() => parseRouting([]))).toContain("missing routing");
    expect(usageMessage(() => parseRouting(["latest=100"]))).toContain("version");
  });
});

describe("cli args - function refs and --since", () => {
  it("splits name@alias and name@version", () => {
    expect(parseFunctionRef("hello")).toEqual({ name: "hello", target: undefined });
    expect(parseFunctionRef("hello@beta")).toEqual({ name: "hello", target: "beta" });
    expect(parseFunctionRef("hello@v3")).toEqual({ name: "hello", target: "v3" });
    expect(parseFunctionRef("hello@3")).toEqual({ name: "hello", target: "v3" });
    expect(usageMessage(() => parseFunctionRef("../etc"))).toContain("invalid function name");
    expect(usageMessage(() => parseFunctionRef("hello@a/b"))).toContain("invalid alias");
  });

  it("turns durations into ISO times and keeps dates", () => {
    const now = Date.parse("2025-01-01T12:00:00Z");
    expect(sinceToIso("10m", now)).toBe("2025-01-01T11:50:00.000Z");
    expect(sinceToIso("2h", now)).toBe("2025-01-01T10:00:00.000Z");
    expect(sinceToIso("2024-12-31T00:00:00Z", now)).toBe("2024-12-31T00:00:00.000Z");
    expect(sinceToIso(String(now), now)).toBe("2025-01-01T12:00:00.000Z");
    expect(usageMessage(() => sinceToIso("yesterday-ish", now))).toContain("invalid --since");
  });
});
