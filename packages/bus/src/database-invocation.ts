import { type InvocationRequest, invocationIdFor } from "@kumo/core";
import { eventRequest } from "./event-request.ts";

export const DATABASE_CHANGE_KINDS = ["insert", "update", "delete"] as const;
export type DatabaseChangeKind = (typeof DATABASE_CHANGE_KINDS)[number];

/**
 * How the table identifies a changed row (PostgreSQL's REPLICA IDENTITY), which decides what
 * `old` holds: "full": every column; "default" or "index": only the key's columns; "nothing": no
 * old row at all.
 */
export type ReplicaIdentity = "default" | "full" | "index" | "nothing";

/** One row change read from a database trigger's replication slot. */
export interface DatabaseChange {
  triggerId: string;
  kind: DatabaseChangeKind;
  schema: string;
  table: string;
  new: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
  replicaIdentity: ReplicaIdentity;
  /** The commit LSN of the change's transaction ("16/B374D848"). */
  lsn: string;
  /** The change's position in its transaction, from 0: with `lsn`, unique and in commit order. */
  index: number;
  committedAt: Date;
}

/** The JSON event a database-triggered function receives (with `kumo-event-type: database`). */
export interface DatabaseEvent {
  type: `db.${DatabaseChangeKind}`;
  triggerId: string;
  schema: string;
  table: string;
  new: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
  replicaIdentity: ReplicaIdentity;
  lsn: string;
  index: number;
  committedAt: string;
}

/**
 * The async invocation of one row change and its JetStream dedupe id `triggerId:lsn:index`; the
 * invocation id is derived from it. After a crash the slot sends changes again from the last
 * acknowledged LSN, and those already stored are dropped by the stream as duplicates (within its
 * duplicate window) and keep their invocation id.
 */
export function databaseInvocation(
  change: DatabaseChange,
  timeoutMs: number,
  now = Date.now(),
): { request: InvocationRequest; msgId: string } {
  const msgId = `${change.triggerId}:${change.lsn}:${change.index}`;
  const invocationId = invocationIdFor(msgId);
  const event: DatabaseEvent = {
    type: `db.${change.kind}`,
    triggerId: change.triggerId,
    schema: change.schema,
    table: change.table,
    new: change.new,
    old: change.old,
    replicaIdentity: change.replicaIdentity,
    lsn: change.lsn,
    index: change.index,
    committedAt: change.committedAt.toISOString(),
  };
  const deadline = now + timeoutMs;
  return { request: eventRequest("database", invocationId, event, deadline), msgId };
}
