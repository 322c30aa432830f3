// `npm run bench`: provision like `test`, then run each benchmark in its own process, one after
// another (they measure the machine, so running them in parallel would skew their figures).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { childEnv, provision } from "../provision/index.mjs";
import { act, fail, ok, skip } from "../provision/log.mjs";
import { exitCodeOf, runForeground } from "./run-foreground.mjs";

const STEP = "bench";

/**
 * @param {import("../provision/settings.mjs").Settings} settings
 * @param {string[]} args benchmark files to run; default: every bench/*.bench.ts
 * @returns {Promise<number>} 0 when every benchmark exited 0
 */
export async function bench(settings, args) {
  const env = childEnv(settings, {
    databaseUrl: settings.testDatabaseUrl,
    withDataDir: false,
    extra: { KUMO_BENCH: "1" },
  });
  await provision(settings, {
    databaseUrl: settings.testDatabaseUrl,
    dockerRequired: true,
    logicalReplication: true,
    rabbitmq: true,
    chromium: true,
    haproxy: true,
    env,
  });

  const files = args.length > 0 ? args : benchFiles(settings.repoRoot);
  if (files.length === 0) {
    skip(STEP, "no bench/*.bench.ts files");
    return 0;
  }
  const failed = [];
  for (const file of files) {
    act(STEP, `node --import tsx ${file}`);
    const { code, interruptedBy } = await runForeground(process.execPath, ["--import", "tsx", file], {
      cwd: settings.repoRoot,
      env,
    });
    if (interruptedBy) {
      fail(STEP, `stopped by ${interruptedBy}; the remaining benchmarks were not run`);
      return code || exitCodeOf(interruptedBy);
    }
    if (code === 0) ok(STEP, `${file} done`);
    else {
      fail(STEP, `${file} exited with ${code}`);
      failed.push(file);
    }
  }
  if (failed.length > 0)
    fail(STEP, `${failed.length} of ${files.length} benchmarks failed: ${failed.join(", ")}`);
  return failed.length > 0 ? 1 : 0;
}

/** @param {string} repoRoot */
function benchFiles(repoRoot) {
  const dir = join(repoRoot, "bench");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".bench.ts"))
    .sort()
    .map((name) => `bench/${name}`);
}
