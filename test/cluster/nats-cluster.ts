import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectBus, jetstreamManager } from "@kumo/bus";

/** A free loopback port (bound and released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Node {
  name: string;
  clientPort: number;
  routePort: number;
  storeDir: string;
  process: ChildProcess | undefined;
}

/**
 * A JetStream cluster of `size` nats-server processes on loopback (routes between all of them), as
 * an operator would run three machines. Nodes can be killed with SIGKILL and started again on the
 * same ports and store, like a machine that crashed and came back.
 */
export class NatsCluster {
  readonly #nodes: Node[] = [];
  readonly #dir = mkdtempSync(join(tmpdir(), "kumo-nats-cluster-"));

  static async start(size = 3): Promise<NatsCluster> {
    const cluster = new NatsCluster();
    for (let i = 0; i < size; i++) {
      cluster.#nodes.push({
        name: `n${i + 1}`,
        clientPort: await freePort(),
        routePort: await freePort(),
        storeDir: join(cluster.#dir, `n${i + 1}`),
        process: undefined,
      });
    }
    for (const node of cluster.#nodes) cluster.#spawn(node);
    await cluster.waitReady();
    return cluster;
  }

  /** Every node's client URL, comma-separated (what NATS_URL takes). */
  get url(): string {
    return this.#nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`).join(",");
  }

  portOf(index: number): number {
    return this.#nodes[index]?.clientPort ?? 0;
  }

  indexOfPort(port: number): number {
    return this.#nodes.findIndex((n) => n.clientPort === port);
  }

  /** SIGKILL: no goodbye to the cluster, as a machine that lost power. */
  kill(index: number): void {
    const node = this.#nodes[index];
    node?.process?.kill("SIGKILL");
    if (node) node.process = undefined;
  }

  restart(index: number): void {
    const node = this.#nodes[index];
    if (node && !node.process) this.#spawn(node);
  }

  /** Until JetStream answers through every live node (a meta leader is elected). */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (const node of this.#nodes.filter((n) => n.process)) {
      for (;;) {
        try {
          const nc = await connectBus({
            url: `nats://127.0.0.1:${node.clientPort}`,
            name: "cluster-probe",
            timeoutMs: 1000,
          });
          try {
            await (await jetstreamManager(nc)).getAccountInfo();
            break;
          } finally {
            await nc.close();
          }
        } catch (error) {
          if (Date.now() > until) throw new Error(`NATS node ${node.name} not ready: ${String(error)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }
  }

  async stop(): Promise<void> {
    for (const node of this.#nodes) node.process?.kill("SIGKILL");
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #spawn(node: Node): void {
    const routes = this.#nodes.map((n) => `nats://127.0.0.1:${n.routePort}`).join(",");
    node.process = spawn(
      "nats-server",
      [
        "-a",
        "127.0.0.1",
        "-p",
        String(node.clientPort),
        "-n",
        node.name,
        "-js",
        "-sd",
        node.storeDir,
        "--cluster_name",
        "kumo-test",
        "--cluster",
        `nats://127.0.0.1:${node.routePort}`,
        "--routes",
        routes,
      ],
      { stdio: "ignore" },
    );
  }
}
