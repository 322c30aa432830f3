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

  constructor(options: NodeLinksOptions) {
    this.#options = options;
  }

  start(): void {
    this.#sub = subscribeNodeBeats(this.#options.nc, this.#options.namespace, (beat) => {
      if (beat.bye) {
        this.#nodes.delete(beat.nodeId);
        if (this.#client?.nodeId === beat.nodeId) this.#drop();
        return;
      }
      const every = typeof beat.every === "number" && beat.every > 0 ? beat.every : DEFAULT_EVERY_MS;
      const link = typeof beat.link === "string" ? beat.link : undefined;
      this.#nodes.set(beat.nodeId, { seen: Date.now(), every, ...(link ? { link } : {}) });
      if (this.#client && this.#client.nodeId === beat.nodeId && this.#client.path !== link) this.#drop();
    });
  }

  /** The link to use for a sync invocation now, if any (opening one when it may). */
  current(): LinkClient | undefined {
    const only = this.#onlyNode();
    if (!only?.link) {
      if (this.#client) this.#drop();
      return undefined;
    }
    const client = this.#client;
    if (client && client.nodeId === only.nodeId && client.path === only.link)
      return client.ready ? client : undefined;
    if (client) this.#drop();
    if (Date.now() < this.#retryAt) return undefined;
    this.#retryAt = Date.now() + RETRY_MS;
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

  #onlyNode(): { nodeId: string; link?: string } | undefined {
    const now = Date.now();
    let only: { nodeId: string; link?: string } | undefined;
    for (const [nodeId, node] of this.#nodes) {
      if (now - node.seen > 3 * node.every) {
        this.#nodes.delete(nodeId);
        continue;
      }
      if (only) return undefined;
      only = { nodeId, ...(node.link ? { link: node.link } : {}) };
    }
    return only;
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.close();
  }
}
