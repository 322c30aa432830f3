import type { MessagePort } from "node:worker_threads";

/** A client's message to the PGlite thread (pglite-thread.mjs). `tx` numbers are per port. */
export type ThreadRequest =
  | { op: "query"; id: number; sql: string; params: unknown[]; tx?: number | undefined }
  | { op: "begin" | "commit" | "rollback"; id: number; tx: number }
  | { op: "close"; id: number }
  /** Hands the thread a new client port (another thread's connection). */
  | { op: "attach"; port: MessagePort };

/** The thread's answer; id 0 announces that the database is open. */
export type ThreadReply =
  | { id: number; rows: unknown[]; affectedRows?: number | undefined }
  | { id: number; error: Record<string, unknown> };
