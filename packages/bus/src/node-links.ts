import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { LinkClient, type LinkMessage } from "./direct-link.ts";
import { subjects } from "./subjects.ts";

/** An autoscaler node's heartbeat on `subjects.nodes` (NodeRoster sends it). */
export interface NodeBeat {
  nodeId: string;
  bye?: boolean;
  /** The node's direct-link socket (see LinkServer), when it offers one. */
  link?: string;
  /** The node's heartbeat interval (ms): it is gone after three silent ones. */
  every?: number;
}

export interface NodeLinksOptions {
  nc: NatsConnection;
  namespace: string;
  /** A message the node sent over the link (a reply frame). */
  onMessage(message: LinkMessage): void;
  /** A link closed: what was sent over it will get no answer. */
  onClose(link: LinkClient): void;
}

const DEFAULT_EVERY_MS = 2000;

/** Every node heartbeat of an installation that parses as one. */
export function subscribeNodeBeats(
  nc: NatsConnection,
  namespace: string,
  onBeat: (beat: NodeBeat) => void,
): Subscription {
  return nc.subscribe(subjects.nodes(namespace), {
    callback: (error, msg) => {
      if (error) return;
      let beat: NodeBeat;
      try {
        beat = msg.json<NodeBeat>();
      } catch {
        return;
      }
      if (typeof beat?.nodeId === "string") onBeat(beat);
    },
  });
}

/** After a link fails, how long before the next attempt to open one. */
const RETRY_MS = 1000;

/**
 * The gateway's view of the autoscaler nodes, from their heartbeats, for one purpose: when exactly
 * one node is live and it offers a direct link, sync invocations go over that link instead of
 * through nats-server. With several nodes, NATS's queue group shares the load between them, so
 * `current()` gives no link. A node whose socket cannot be reached from here (another machine) is
 * simply not linked: everything keeps working over NATS.
 */
export class NodeLinks {
  readonly #options: NodeLinksOptions;
  readonly #nodes = new Map<string, { seen: number; every: number; link?: string }>();
  #sub: Subscription | undefined;
  #client: LinkClient | undefined;
  #retryAt = 0;
  /** The node to link to, as of the last look at the heartbeats: the only live one, if it offers a link. */
  #only: { nodeId: string; link: string } | undefined;
  /**
   * When to look again: at the next heartbeat, or when the first node would fall silent. Until
   * then current(), asked on every sync invocation, only compares a clock.
   */
  #lookAgainAt = 0;

  constructor(options: NodeLinksOptions) {
    this.#options = options;
  }

  start(): void {
    this.#sub = subscribeNodeBeats(this.#options.nc, this.#options.namespace, (beat) => {
      this.#lookAgainAt = 0;
      if (beat.bye) {
        this.#nodes.delete(beat.nodeId);
        if (this.#client?.nodeId === beat.nodeId) this.#drop();
        return;
      }
      const every = typeof beat.every === "number" && beat.every > 0 ? beat.every : DEFAULT_EVERY_MS;
      const link = typeof beat.link === "string" ? beat.link : undefined;
      this.#nodes.set(beat.nodeId, { seen: Date.now(), every, ...(link ? { link } : {}) });
    });
  }

  /** The link to use for a sync invocation now, if any (opening one when it may). */
  current(): LinkClient | undefined {
    const now = Date.now();
    if (now >= this.#lookAgainAt) this.#look(now);
    const only = this.#only;
    const client = this.#client;
    if (client) {
      if (client.nodeId === only?.nodeId && client.path === only.link)
        return client.ready ? client : undefined;
      this.#drop();
    }
    if (!only || now < this.#retryAt) return undefined;
    this.#retryAt = now + RETRY_MS;
    this.#client = new LinkClient({
      path: only.link,
      namespace: this.#options.namespace,
      nodeId: only.nodeId,
      onMessage: this.#options.onMessage,
      onClose: (closed) => {
        if (this.#client === closed) this.#client = undefined;
        this.#options.onClose(closed);
      },
    });
    return undefined;
  }

  stop(): void {
    this.#sub?.unsubscribe();
    this.#drop();
  }

  /** Forgets nodes silent for three of their heartbeats and picks the node to link to, if any. */
  #look(now: number): void {
    let live = 0;
    let soonest = Number.POSITIVE_INFINITY;
    let only: { nodeId: string; link: string } | undefined;
    for (const [nodeId, node] of this.#nodes) {
      const silentAt = node.seen + 3 * node.every;
      if (now > silentAt) {
        this.#nodes.delete(nodeId);
        continue;
      }
      live++;
      soonest = Math.min(soonest, silentAt);
      if (node.link) only = { nodeId, link: node.link };
    }
    this.#only = live === 1 ? only : undefined;
    this.#lookAgainAt = soonest;
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.close();
  }
}
