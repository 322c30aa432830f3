import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The shipped load balancer configuration, used as it is (addresses come from the environment). */
export const HAPROXY_CONFIG = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../deploy/haproxy/haproxy.cfg",
);

/**
 * Debian's haproxy in the foreground on loopback ports, balancing the given gateways with
 * deploy/haproxy/haproxy.cfg. Setup installs haproxy (scripts/provision/haproxy.mjs).
 */
export class Haproxy {
  readonly #child: ChildProcess;
  readonly url: string;

  private constructor(child: ChildProcess, url: string) {
    this.#child = child;
    this.url = url;
  }

  static async start(options: { port: number; statsPort: number; gateways: string[] }): Promise<Haproxy> {
    if (spawnSync("haproxy", ["-v"]).status !== 0) {
      throw new Error(
        "haproxy is not installed: run `node scripts/kumo.mjs provision` (or apt-get install haproxy)",
      );
    }
    const [gw1 = "", gw2 = ""] = options.gateways;
    const env = {
      PATH: process.env.PATH ?? "",
      KUMO_LB_BIND: `127.0.0.1:${options.port}`,
      KUMO_LB_STATS: `127.0.0.1:${options.statsPort}`,
      KUMO_GATEWAY_1: gw1,
      KUMO_GATEWAY_2: gw2,
    };
    const check = spawnSync("haproxy", ["-c", "-q", "-f", HAPROXY_CONFIG], { env, encoding: "utf8" });
    if (check.status !== 0)
      throw new Error(`haproxy rejects ${HAPROXY_CONFIG}: ${check.stderr}${check.stdout}`);
    const child = spawn("haproxy", ["-db", "-f", HAPROXY_CONFIG], {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4000);
    });
    const lb = new Haproxy(child, `http://127.0.0.1:${options.port}`);
    const until = Date.now() + 10_000;
    // Up once its stats page answers and its health checks see every gateway up.
    const servers = options.gateways.filter(Boolean).length;
    for (;;) {
      const up = await fetch(`http://127.0.0.1:${options.statsPort}/metrics`, {
        signal: AbortSignal.timeout(1000),
      })
        .then((r) => r.text())
        .then(
          (text) =>
            Number(/haproxy_backend_active_servers\{proxy="kumo_gateways"\} (\d+)/.exec(text)?.[1]) >=
            servers,
          () => false,
        );
      if (up) return lb;
      if (child.exitCode !== null || Date.now() > until) {
        child.kill("SIGKILL");
        throw new Error(`haproxy did not see every gateway up within 10 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  stop(): void {
    this.#child.kill("SIGTERM");
  }
}
