import {
  type AsyncInvocations,
  type DatabaseChange,
  type DatabaseChangeKind,
  databaseInvocation,
  type ReplicaIdentity,
} from "@kumo/bus";
import { type DatabaseTriggerSettings, type FunctionConfig, KumoError, type SecretBox } from "@kumo/core";
import {
  type PlatformStore,
  queuedInvocation,
  type Recorder,
  type ReplicationSlots,
  type TriggerRow,
  targetVersion,
} from "@kumo/db";
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication";
import { Lsn } from "./lsn.ts";
import { replicationName, triggerSlotContext } from "./replication-names.ts";
import { errorMessage, ReplicationProblem, ReplicationSetup } from "./replication-setup.ts";
import { waitForOutcome } from "./wait-for-outcome.ts";

export interface ChangeStreamOptions {
  trigger: TriggerRow;
  settings: DatabaseTriggerSettings;
  /** Opens the connection string from the tenant secret (fails when it is missing). */
  connection: () => Promise<string>;
  platform: PlatformStore;
  slots: ReplicationSlots;
  sender: AsyncInvocations;
  recorder: Recorder;
  /** Seals the scheduler's copy of the connection string (see trigger_slots). */
  secretBox: SecretBox | undefined;
  /** First retry delay after an error; doubles up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  log: (line: string) => void;
}

export type ChangeStreamState = "starting" | "streaming" | "error" | "stopped";

/** How often the confirmed LSN is sent to the server while nothing else is (wal_sender_timeout is 60 s). */
const STATUS_EVERY_MS = 10_000;
/** How often the confirmed LSN is written into the trigger's state while changes flow. */
const REPORT_EVERY_MS = 2_000;

interface OpenTransaction {
  lsn: string;
  committedAt: Date;
  index: number;
}

/** Counts what the library parsed, so "every received change is handled" can be told. */
class CountingPgoutput extends PgoutputPlugin {
  received = 0;
  override parse(buffer: Buffer): Pgoutput.Message {
    this.received++;
    return super.parse(buffer);
  }
}

/**
 * One database trigger's change stream: checks the tenant's server, makes the publication and the
 * durable slot, then streams pgoutput changes. Each row change becomes one async invocation
 * (dedupe id `triggerId:lsn:index`), and the next change is sent only when that invocation's
 * outcome is final, so the function sees the trigger's changes one at a time in commit order (a
 * failing change is retried by the async path and holds back the ones after it, as stream
 * consumers do). A transaction's commit LSN is acknowledged to the slot once all its changes ran,
 * so a crash at any point resends from the last acknowledged transaction (at least once; the
 * stream drops re-sent changes it already holds). Errors put the trigger in the "error" state and
 * are retried with backoff; the stream never throws out of `start()`.
 */
export class ChangeStream {
  readonly #options: ChangeStreamOptions;
  readonly #slot: string;
  readonly #abort = new AbortController();
  #state: ChangeStreamState = "starting";
  #run: Promise<void> | undefined;
  #service: LogicalReplicationService | undefined;
  #confirmedLsn: string | null = null;
  #lastChangeAt: string | null = null;
  #reportedAt = 0;

  constructor(options: ChangeStreamOptions) {
    this.#options = options;
    this.#slot = replicationName(options.trigger.id);
  }

  get state(): ChangeStreamState {
    return this.#state;
  }

  get triggerId(): string {
    return this.#options.trigger.id;
  }

  start(): void {
    this.#run = this.#loop();
  }

  /** Stops streaming; the slot and publication stay (the trigger may resume). */
  async stop(): Promise<void> {
    this.#state = "stopped";
    this.#abort.abort();
    await this.#service?.destroy().catch(() => {});
    await this.#run;
  }

  async #loop(): Promise<void> {
    let delay = this.#options.retryBaseMs;
    while (!this.#abort.signal.aborted) {
      const began = Date.now();
      try {
        await this.#session();
      } catch (error) {
        if (this.#abort.signal.aborted) break;
        this.#state = "error";
        const message = problemMessage(error);
        this.#options.log(`database trigger ${this.triggerId}: ${message}`);
        await this.#report(message).catch(() => {});
      }
      if (this.#abort.signal.aborted) break;
      // A session that streamed for a while was healthy: start the backoff again.
      if (Date.now() - began > this.#options.retryMaxMs) delay = this.#options.retryBaseMs;
      await sleep(delay, this.#abort.signal);
      delay = Math.min(this.#options.retryMaxMs, delay * 2);
    }
  }

  /** One connection's life: set up, stream until an error or `stop()`. */
  async #session(): Promise<void> {
    const { trigger, settings, secretBox } = this.#options;
    const connection = await this.#options.connection();
    if (!secretBox) throw new KumoError("FN_008", "the scheduler has no KUMO_MASTER_KEY");
    const setup = await ReplicationSetup.connect(connection, settings.connectionSecret);
    try {
      const keys = await setup.check(settings);
      // Registered before the slot exists: a crash in between leaves a registration whose drop is
      // a no-op, never a slot nobody knows about.
      await this.#options.slots.register({
        triggerId: trigger.id,
        tenantId: trigger.tenant_id,
        connectionSecret: settings.connectionSecret,
        sealedConnection: secretBox.seal(connection, triggerSlotContext(trigger.tenant_id, trigger.id)),
        slot: this.#slot,
        publication: this.#slot,
      });
      await setup.ensurePublication(this.#slot, settings, keys);
      const slot = await setup.ensureSlot(this.#slot);
      this.#confirmedLsn = slot.confirmedLsn ? Lsn.normalize(slot.confirmedLsn) : null;
    } finally {
      await setup.close();
    }
    if (this.#abort.signal.aborted) return;
    await this.#stream(connection);
  }

  #stream(connection: string): Promise<void> {
    const plugin = new CountingPgoutput({ protoVersion: 1, publicationNames: [this.#slot] });
    const service = new LogicalReplicationService(
      { connectionString: connection, application_name: this.#slot, connectionTimeoutMillis: 10_000 },
      // Acknowledgements are ours (after the changes ran); the library's timer would confirm
      // whatever it last received.
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.#service = service;
    let handled = 0;
    let open: OpenTransaction | undefined;
    let failed = false;
    return new Promise<void>((resolve, reject) => {
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        clearInterval(status);
        void service.destroy().finally(() => (this.#abort.signal.aborted ? resolve() : reject(error)));
      };
      const acknowledge = () => {
        if (this.#confirmedLsn) void service.acknowledge(Lsn.before(this.#confirmedLsn)).catch(fail);
      };
      // Sent from a timer, not only on the server's keepalives: while a change waits for its run
      // the socket is paused (flow control), and the server would time the connection out.
      const status = setInterval(acknowledge, STATUS_EVERY_MS);
      service.on("error", fail);
      service.on("start", () => {
        this.#state = "streaming";
        void this.#report(null).catch(() => {});
      });
      service.on("heartbeat", (lsn: string, _at: number, shouldRespond: boolean) => {
        // Idle (no transaction open, every received message handled): nothing before the
        // server's position concerns this trigger, so the slot may move on and release WAL the
        // server wrote for other tables.
        if (!open && handled === plugin.received && this.#confirmedLsn) {
          this.#confirmedLsn = Lsn.max(this.#confirmedLsn, lsn);
        }
        if (shouldRespond) acknowledge();
      });
      service.on("data", async (_lsn: string, message: Pgoutput.Message) => {
        if (failed) return;
        try {
          switch (message.tag) {
            case "begin":
              open = {
                lsn: Lsn.normalize(message.commitLsn ?? "0/0"),
                committedAt: new Date(Number(BigInt(message.commitTime.toString()) / 1000n)),
                index: 0,
              };
              break;
            case "insert":
            case "update":
            case "delete":
              if (!open) throw new Error(`a ${message.tag} outside a transaction`);
              await this.#deliver(open, message);
              open.index++;
              break;
            case "commit":
              open = undefined;
              if (message.commitEndLsn) {
                this.#confirmedLsn = Lsn.normalize(message.commitEndLsn);
                acknowledge();
                if (Date.now() - this.#reportedAt >= REPORT_EVERY_MS) await this.#report(null);
              }
              break;
            default:
              // relation, type, origin: metadata the parser keeps; truncate is not published.
              break;
          }
          handled++;
        } catch (error) {
          fail(error);
        }
      });
      service
        .subscribe(plugin, this.#slot)
        .then(() => {
          // The server ended the stream (or we stopped it).
          if (!failed) fail(new Error("the replication connection closed"));
        })
        .catch(fail);
    });
  }

  /** Publishes one change, records it, and waits until its run's outcome is final. */
  async #deliver(
    tx: OpenTransaction,
    message: Pgoutput.MessageInsert | Pgoutput.MessageUpdate | Pgoutput.MessageDelete,
  ): Promise<void> {
    const { trigger, platform, sender, recorder } = this.#options;
    const store = platform.tenant(trigger.tenant_id);
    const fn = await store.functions.byId(trigger.function_id);
    if (!fn) throw new KumoError("FN_001", `function ${trigger.function_id} not found`);
    // No version to run (no deploy yet, alias gone): the error state says so and the change waits
    // in the slot until the stream is retried.
    const version = await targetVersion(store, fn, trigger.target);
    const config = version.config as FunctionConfig;
    const relation = message.relation;
    const change: DatabaseChange = {
      triggerId: trigger.id,
      kind: message.tag as DatabaseChangeKind,
      schema: relation.schema,
      table: relation.name,
      new: message.tag === "delete" ? null : jsonRow(message.new),
      old: message.tag === "insert" ? null : jsonRow(message.old ?? message.key),
      replicaIdentity: relation.replicaIdentity as ReplicaIdentity,
      lsn: tx.lsn,
      index: tx.index,
      committedAt: tx.committedAt,
    };
    const now = Date.now();
    const { request, msgId } = databaseInvocation(change, config.timeoutMs, now);
    const target = {
      tenantId: trigger.tenant_id,
      functionId: trigger.function_id,
      versionId: version.id,
      version: version.version,
    };
    const ack = await sender.publish(target, request, { msgId, queuedAt: now, triggerId: trigger.id });
    if (!ack.duplicate) {
      recorder.record(queuedInvocation(target, request, now, { triggerId: trigger.id }));
    }
    await store.triggers.recordManualFire(trigger.id, request.invocationId, new Date(now));
    this.#lastChangeAt = tx.committedAt.toISOString();
    await waitForOutcome(store, request.invocationId, this.#abort.signal);
  }

  async #report(error: string | null): Promise<void> {
    this.#reportedAt = Date.now();
    await this.#options.slots.report(this.triggerId, {
      state: {
        slot: this.#slot,
        publication: this.#slot,
        confirmedLsn: this.#confirmedLsn,
        lastChangeAt: this.#lastChangeAt,
        streaming: error === null && this.#state === "streaming",
        error,
      },
      error,
    });
  }
}

/** A row as JSON: bytea as PostgreSQL's hex text, 64-bit integers as the strings pg parses them to. */
function jsonRow(row: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (!row) return null;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (value === undefined) continue;
    if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
      out[key] = `\\x${Buffer.from(value).toString("hex")}`;
    } else if (typeof value === "bigint") out[key] = value.toString();
    else out[key] = value;
  }
  return out;
}

function problemMessage(error: unknown): string {
  if (error instanceof KumoError) return `${error.code}: ${error.message}`;
  if (error instanceof ReplicationProblem) return error.message;
  return errorMessage(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
