import { createHash } from "node:crypto";
import {
  type NatsConnection,
  type NodeBeat,
  type Subscription,
  subjects,
  subscribeNodeBeats,
} from "@kumo/bus";

export interface NodeRosterOptions {
  nc: NatsConnection;
  namespace: string;
  nodeId: string;
  /** How often this node announces itself; a node silent for 3 intervals is gone. */
  heartbeatMs?: number;
  /** Called when the set of live nodes changes. */
  onChange?: () => void;
  /** This node's direct-link socket, announced so gateways on this machine can skip nats-server. */
  link?: string;
}

/**
 * The autoscaler nodes of one installation, learned from heartbeats on `subjects.nodes`. A node
 * that hears a newcomer announces itself at once, and a stopping node says goodbye, so the roster
 * settles within a round trip. Used to split cluster-wide counts (minInstances, maxConcurrency)
 * between nodes.
 */
export class NodeRoster {
  readonly #options: NodeRosterOptions;
  readonly #seen = new Map<string, number>();
  readonly #shares = new Map<string, number>();
  #sub: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: NodeRosterOptions) {
    this.#options = options;
    this.#seen.set(options.nodeId, Number.POSITIVE_INFINITY);
  }

  start(): void {
    const { nc, namespace, nodeId } = this.#options;
    this.#sub = subscribeNodeBeats(nc, namespace, (beat) => {
      if (beat.nodeId === nodeId) return;
      if (beat.bye) {
        if (this.#seen.delete(beat.nodeId)) this.#changed();
        return;
      }
      const known = this.#seen.has(beat.nodeId);
      this.#seen.set(beat.nodeId, Date.now());
      if (!known) {
        this.#announce();
        this.#changed();
      }
    });
    this.#announce();
    this.#timer = setInterval(() => {
      this.#announce();
      this.#expire();
    }, this.#heartbeatMs());
    this.#timer.unref();
  }

  /** Live node ids, this one included, sorted. */
  nodes(): string[] {
    this.#expire();
    return [...this.#seen.keys()].sort();
  }

  /**
   * This node's part of a cluster-wide count for one key: the count split evenly, the remainder
   * going to nodes in an order rotated per key, so different versions' extra instances land on
   * different nodes and the parts of all nodes add up to `total`.
   */
  share(key: string, total: number): number {
    // Asked on every invocation: cached until the set of nodes changes.
    const cacheKey = `${key}\n${total}`;
    let share = this.#shares.get(cacheKey);
    if (share === undefined) {
      share = this.shareOf(this.#options.nodeId, key, total);
      if (this.#shares.size >= 10_000) this.#shares.clear();
      this.#shares.set(cacheKey, share);
    }
    return share;
  }

  /** Any live node's part of a cluster-wide count (see share); 0 for a node not in the roster. */
  shareOf(nodeId: string, key: string, total: number): number {
    const nodes = this.nodes();
    const at = nodes.indexOf(nodeId);
    if (at < 0) return 0;
    const n = nodes.length;
    const offset = createHash("sha256").update(key).digest().readUInt32BE(0) % n;
    const position = (at - offset + n) % n;
    return Math.floor(total / n) + (position < total % n ? 1 : 0);
  }

  /** The live nodes whose part of the count is not zero. */
  holders(key: string, total: number): string[] {
    return this.nodes().filter((id) => this.shareOf(id, key, total) > 0);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#sub?.unsubscribe();
    const { nc, namespace, nodeId } = this.#options;
    if (!nc.isClosed()) nc.publish(subjects.nodes(namespace), JSON.stringify({ nodeId, bye: true }));
  }

  #heartbeatMs(): number {
    return this.#options.heartbeatMs ?? 2000;
  }

  #announce(): void {
    const { nc, namespace, nodeId, link } = this.#options;
    const beat: NodeBeat = { nodeId, every: this.#heartbeatMs(), ...(link ? { link } : {}) };
    if (!nc.isClosed()) nc.publish(subjects.nodes(namespace), JSON.stringify(beat));
  }

  #expire(): void {
    const limit = Date.now() - 3 * this.#heartbeatMs();
    let changed = false;
    for (const [id, at] of this.#seen) {
      if (at < limit) {
        this.#seen.delete(id);
        changed = true;
      }
    }
    if (changed) this.#changed();
  }

  #changed(): void {
    this.#shares.clear();
    this.#options.onChange?.();
  }
}
