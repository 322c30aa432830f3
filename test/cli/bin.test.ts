import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../../packages/cli/bin/kumo.mjs", import.meta.url));

async function runBin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, KUMO_CONFIG: "/nonexistent/kumo.json", KUMO_API_KEY: "", KUMO_URL: "" },
      timeout: 15_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("kumo bin - the installed entry point", () => {
  it("runs the TypeScript sources through the tsx shim and sets the exit code", async () => {
    const [help, usage, auth] = await Promise.all([
      runBin(["--help"]),
      runBin(["deploy", "--no-such-flag"]),
      runBin(["whoami"]),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: kumo <command>");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown option '--no-such-flag'");
    expect(auth.code).toBe(3);
    expect(auth.stderr).toContain("error NOT_LOGGED_IN: not logged in to http://127.0.0.1:8080");
  });
});
