#!/usr/bin/env node
// Entry point of the README commands (`npm start`, `npm test`, `npm run bench`). Plain Node with
// no npm dependencies, because its first job is to run `npm install`.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bench } from "./commands/bench.mjs";
import { provisionOnly } from "./commands/provision-only.mjs";
import { start } from "./commands/start.mjs";
import { test } from "./commands/test.mjs";
import { loadSettings, ProvisionError } from "./provision/index.mjs";
import { detail, fail } from "./provision/log.mjs";

const COMMANDS = { start, test, bench, provision: provisionOnly };

const USAGE = `usage: node scripts/kumo.mjs <command> [args]

  start       provision, then run the all-in-one platform (apps/all-in-one [--port N] [--data-dir DIR])
  test        provision, then vitest run [args]
  bench       provision, then run bench/*.bench.ts (or the files given) one by one
  provision   install dependencies and make sure NATS, PostgreSQL and Docker are up

environment:
  KUMO_DATA_DIR        state and daemon logs (default: <repo>/.kumo)
  NATS_URL             default nats://127.0.0.1:4222; a local one is started if down
  DATABASE_URL         start: unset = embedded PGlite; test/bench default postgres://postgres@127.0.0.1:5432/test
  DOCKER_HOST          default unix:///var/run/docker.sock
  KUMO_SKIP_PROVISION  1 = only install dependencies, check no services
`;

async function main() {
  const [name, ...args] = process.argv.slice(2);
  if (!name || !Object.hasOwn(COMMANDS, name)) {
    process.stderr.write(USAGE);
    return name === "help" || name === "--help" ? 0 : 2;
  }
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const settings = loadSettings(process.env, repoRoot);
  try {
    return await COMMANDS[name](settings, args);
  } catch (error) {
    if (!(error instanceof ProvisionError)) throw error;
    fail(error.step, error.message);
    if (error.hint) detail(error.hint);
    return 1;
  }
}

process.exitCode = await main();
