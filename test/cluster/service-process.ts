import { type ChildProcess, spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The variable that sets each service's HTTP port (its API, or its /healthz, /readyz and /metrics). */
const PORT_VARIABLE = {
  gateway: "KUMO_PORT",
  autoscaler: "KUMO_AUTOSCALER_PORT",
  scheduler: "KUMO_SCHEDULER_PORT",
  builder: "KUMO_BUILDER_PORT",
} as const;

/**
 * A Kumo service as its own process (`node --import tsx services/<service>/src/main.ts`, as systemd
 * and the Kubernetes manifests run it) on a fixed loopback port, so it can be stopped and started
 * again (behind a load balancer that keeps pointing at that port, for a gateway).
 */
export class ServiceProcess {
  readonly service: keyof typeof PORT_VARIABLE;
  readonly port: number;
  readonly #env: Record<string, string>;
  #child: ChildProcess | undefined;
  #output: string[] = [];

  constructor(service: keyof typeof PORT_VARIABLE, port: number, env: Record<string, string>) {
    this.service = service;
    this.port = port;
    this.#env = env;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the process and resolves once /readyz answers 200 (PostgreSQL and NATS reachable). */
  async start(timeoutMs = 90_000): Promise<void> {
    const child = spawn(process.execPath, ["--import", "tsx", `services/${this.service}/src/main.ts`], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? "",
        ...this.#env,
        KUMO_HOST: "127.0.0.1",
        [PORT_VARIABLE[this.service]]: String(this.port),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    this.#output = [];
    const keep = (chunk: Buffer) => {
      this.#output.push(chunk.toString("utf8"));
      if (this.#output.length > 50) this.#output.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`${this.service} on ${this.port} exited: ${this.#output.join("")}`);
      const ready = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      if (Date.now() > until)
        throw new Error(`${this.service} on ${this.port} not ready: ${this.#output.join("")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGTERM (the service drains in-flight requests, as systemd or Kubernetes stop it), then waits for the exit. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** SIGKILL: no draining (cleanup after a failed test). */
  kill(): void {
    this.#child?.kill("SIGKILL");
    this.#child = undefined;
  }
}
