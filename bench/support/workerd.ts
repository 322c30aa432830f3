import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

export interface WorkerdOptions {
  /** The worker, an ES module with a default export `{ fetch }`. */
  source: string;
  compatibilityDate?: string;
  compatibilityFlags?: readonly string[];
  /** Polled until it answers 2xx; default "/". */
  readyPath?: string;
}

export interface StartedWorkerd {
  name: "workerd";
  port: number;
  child: ChildProcess;
  dir: string;
  /** Kills the process (SIGKILL: a worker stuck in a loop must not outlive the bench) and removes its files. */
  stop(): Promise<void>;
}

/** workerd (node_modules/.bin/workerd) serving one module worker on a loopback port. */
export async function startWorkerd(options: WorkerdOptions): Promise<StartedWorkerd> {
  const dir = await mkdtemp(join(tmpdir(), "kumo-workerd-"));
  const port = await freePort();
  const flags = (options.compatibilityFlags ?? []).map((f) => JSON.stringify(f)).join(", ");
  await writeFile(join(dir, "worker.js"), options.source);
  await writeFile(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .main) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const main :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  compatibilityDate = "${options.compatibilityDate ?? "2024-09-23"}",
  compatibilityFlags = [${flags}],
);
`,
  );
  const child = spawn(join(root, "node_modules/.bin/workerd"), ["serve", join(dir, "config.capnp")], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (c: Buffer) => {
    log += c.toString();
  });
  child.stdout?.resume();
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}${options.readyPath ?? "/"}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { name: "workerd", port, child, dir, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`workerd did not start: ${log}`);
}
