#!/usr/bin/env node
// Run Kumo's four services as separate processes, the way the systemd units do, from a
// checkout: `node deploy/run-separate.mjs [service...]`. Every service gets this process's
// environment; output lines are prefixed with the service name; SIGINT/SIGTERM stop them all,
// and if one exits on its own the others are stopped too, so a broken deployment is not
// mistaken for a running one.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const SERVICES = ["gateway", "builder", "autoscaler", "scheduler"];
// After this long, services that ignored SIGTERM get SIGKILL.
const STOP_GRACE_MS = 15_000;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const width = Math.max(...SERVICES.map((name) => name.length), "launcher".length);

/**
 * @param {string} name
 * @param {string} text
 * @param {NodeJS.WritableStream} [stream]
 */
function print(name, text, stream = process.stdout) {
  stream.write(`[${name.padEnd(width)}] ${text}\n`);
}

/** @param {string[]} args */
function selectServices(args) {
  const unknown = args.filter((name) => !SERVICES.includes(name));
  if (unknown.length > 0) {
    print("launcher", `unknown service ${unknown.join(", ")}; known: ${SERVICES.join(", ")}`, process.stderr);
    process.exit(2);
  }
  return args.length > 0 ? args : SERVICES;
}

/** @param {string} name */
function mainFile(name) {
  return join("services", name, "src", "main.ts");
}

/**
 * @param {string} name
 * @returns {import("node:child_process").ChildProcess}
 */
function startService(name) {
  // Its own process group: a terminal Ctrl-C reaches only the launcher, which then stops each
  // service exactly once.
  const child = spawn(process.execPath, ["--import", "tsx", mainFile(name)], {
    cwd: repoRoot,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  createInterface({ input: child.stdout }).on("line", (line) => print(name, line));
  createInterface({ input: child.stderr }).on("line", (line) => print(name, line, process.stderr));
  print("launcher", `started ${name} (pid ${child.pid})`);
  return child;
}

function main() {
  const names = selectServices(process.argv.slice(2));
  const missing = names.filter((name) => !existsSync(join(repoRoot, mainFile(name))));
  if (missing.length > 0) {
    print("launcher", `missing ${missing.map(mainFile).join(", ")}`, process.stderr);
    process.exit(1);
  }
  if (!process.env.DATABASE_URL) {
    print(
      "launcher",
      "DATABASE_URL is not set: each service would open its own embedded database",
      process.stderr,
    );
  }

  /** @type {Map<string, import("node:child_process").ChildProcess>} */
  const running = new Map(names.map((name) => [name, startService(name)]));
  let stopping = false;
  let exitCode = 0;

  const stopAll = (/** @type {string} */ why) => {
    if (stopping) return;
    stopping = true;
    print("launcher", `${why}; stopping ${[...running.keys()].join(", ") || "nothing"}`);
    for (const child of running.values()) child.kill("SIGTERM");
    setTimeout(() => {
      for (const [name, child] of running) {
        print("launcher", `${name} did not stop within ${STOP_GRACE_MS / 1000}s; killing it`, process.stderr);
        child.kill("SIGKILL");
      }
    }, STOP_GRACE_MS).unref();
  };

  for (const [name, child] of running) {
    // "close", not "exit": it comes after the last output line has been read and printed.
    child.once("close", (code, signal) => {
      running.delete(name);
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      if (!stopping) {
        exitCode = 1;
        print("launcher", `${name} ${how}`, process.stderr);
        stopAll(`${name} stopped unexpectedly`);
      } else {
        if (code !== 0 && signal !== "SIGTERM") exitCode = 1;
        print("launcher", `${name} ${how}`);
      }
      if (running.size === 0) process.exit(exitCode);
    });
  }

  let lastSignalAt = 0;
  const onSignal = (/** @type {NodeJS.Signals} */ signal) => {
    // npm and the terminal may each deliver the same Ctrl-C; a second one later means "now".
    const now = Date.now();
    if (stopping && now - lastSignalAt > 1000) {
      for (const child of running.values()) child.kill("SIGKILL");
    }
    lastSignalAt = now;
    stopAll(`received ${signal}`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Should the launcher itself crash, take the services down with it.
  process.on("exit", () => {
    for (const child of running.values()) child.kill("SIGKILL");
  });
}

main();
