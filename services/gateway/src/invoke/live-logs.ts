import { type NatsConnection, subjects } from "@kumo/bus";

export interface LiveLogLine {
  ts: string;
  invocationId: string | null;
  level: string;
  message: string;
}

/**
 * Live function logs over NATS, so `logs?follow=1` on any gateway sees lines produced on any node.
 * Without a bus (embedded single-process use) lines are delivered in-process only.
 */
export class LiveLogs {
  readonly #nc: NatsConnection | undefined;
  readonly #namespace: string;
  readonly #local = new Map<string, Set<(line: LiveLogLine) => void>>();

  constructor(nc: NatsConnection | undefined, namespace: string) {
    this.#nc = nc;
    this.#namespace = namespace;
  }

  publish(tenantId: string, functionId: string, lines: readonly LiveLogLine[]): void {
    if (lines.length === 0) return;
    const subject = subjects.logs(tenantId, functionId, this.#namespace);
    if (this.#nc && !this.#nc.isClosed()) {
      this.#nc.publish(subject, JSON.stringify(lines));
      return;
    }
    for (const listener of this.#local.get(subject) ?? []) for (const line of lines) listener(line);
  }

  subscribe(tenantId: string, functionId: string, listener: (line: LiveLogLine) => void): () => void {
    const subject = subjects.logs(tenantId, functionId, this.#namespace);
    if (this.#nc && !this.#nc.isClosed()) {
      const sub = this.#nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error) return;
          for (const line of msg.json<LiveLogLine[]>()) listener(line);
        },
      });
      return () => sub.unsubscribe();
    }
    let set = this.#local.get(subject);
    if (!set) {
      set = new Set();
      this.#local.set(subject, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }
}
