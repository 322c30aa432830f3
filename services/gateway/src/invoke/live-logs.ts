import { type NatsConnection, subjects } from "@kumo/bus";
import type { LogsTable } from "@kumo/db";
import type { Insertable } from "kysely";

export interface LiveLogLine {
  ts: string;
  invocationId: string | null;
  /** Absent in lines from nodes older than the log search work. */
  version?: number | null;
  level: string;
  message: string;
  fields?: Record<string, unknown> | null;
}

/** The live-tail form of a stored log row. */
export function liveLogLine(row: Insertable<LogsTable>): LiveLogLine {
  return {
    ts: new Date(row.ts).toISOString(),
    invocationId: row.invocation_id ?? null,
    version: row.version ?? null,
    level: row.level,
    message: row.message,
    fields: typeof row.fields === "string" ? (JSON.parse(row.fields) as Record<string, unknown>) : null,
  };
}

/** What a follower of `logs?follow=1` asked for: the same filters as the search, applied as lines arrive. */
export interface LiveLogFilter {
  levels?: readonly string[] | undefined;
  /** Case-insensitive substring, as the search's `q`. */
  q?: string | undefined;
  invocationId?: string | undefined;
  version?: number | undefined;
}

export function matchesLiveLog(line: LiveLogLine, filter: LiveLogFilter): boolean {
  if (filter.invocationId !== undefined && line.invocationId !== filter.invocationId) return false;
  if (filter.version !== undefined && line.version !== filter.version) return false;
  if (filter.levels && filter.levels.length > 0 && !filter.levels.includes(line.level)) return false;
  if (filter.q && !line.message.toLowerCase().includes(filter.q.toLowerCase())) return false;
  return true;
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
