import type { AsyncInvocations } from "@kumo/bus";
import type { DatabaseTriggerSettings, SecretBox } from "@kumo/core";
import {
  openTenantSecret,
  type PlatformStore,
  type Recorder,
  type ReplicationSlots,
  type TriggerRow,
  type TriggerSlotRow,
} from "@kumo/db";
import { ChangeStream } from "./change-stream.ts";
import { triggerSlotContext } from "./replication-names.ts";
import { errorMessage, ReplicationSetup } from "./replication-setup.ts";

export interface DatabaseTriggersOptions {
  platform: PlatformStore;
  sender: AsyncInvocations;
  recorder: Recorder;
  /** Opens tenant secrets; without it database triggers report that they cannot start. */
  secretBox: SecretBox | undefined;
  /** Whether this process may stream now (it holds the leader lease). */
  isLeader: () => boolean;
  /** How often the set of database triggers is read again. */
  reconcileMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  log: (line: string) => void;
}

interface Running {
  stream: ChangeStream;
  /** What the stream was started with; a different one restarts it. */
  fingerprint: string;
}

/**
 * The leader's database triggers: every `reconcileMs` the trigger rows are read and one change
 * stream runs per unpaused database trigger (started, stopped on pause, restarted when its
 * settings or target change). A registered slot whose trigger row is gone (deleted through the
 * API, removed from kumo.json, its function or tenant deleted) is dropped with its publication,
 * so no removed trigger keeps WAL pinned on the tenant's server. A follower streams nothing.
 */
export class DatabaseTriggers {
  readonly #options: DatabaseTriggersOptions;
  readonly #slots: ReplicationSlots;
  readonly #running = new Map<string, Running>();
  /** Slots whose drop failed, and when to try again. */
  readonly #dropRetryAt = new Map<string, { at: number; delay: number }>();
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #stopped = false;

  constructor(options: DatabaseTriggersOptions) {
    this.#options = options;
    this.#slots = options.platform.replicationSlots();
  }

  start(): void {
    const loop = () => {
      if (this.#stopped) return;
      this.#pass = this.reconcile()
        .catch((error: unknown) => this.#options.log(`database triggers: ${errorMessage(error)}`))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#options.reconcileMs);
        });
    };
    loop();
  }

  /** Stops every stream (slots stay: the next leader resumes them). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pass;
    await Promise.all([...this.#running.values()].map((r) => r.stream.stop()));
    this.#running.clear();
  }

  /** One pass; exposed for tests. */
  async reconcile(): Promise<void> {
    if (!this.#options.isLeader()) {
      await this.#stopAll();
      return;
    }
    const triggers = await this.#slots.triggers();
    const registered = await this.#slots.registered();
    const byId = new Map(triggers.map((t) => [t.id, t]));
    const registrations = new Map(registered.map((r) => [r.trigger_id, r]));

    for (const [id, running] of this.#running) {
      const trigger = byId.get(id);
      if (!trigger || trigger.paused || fingerprint(trigger) !== running.fingerprint) {
        this.#running.delete(id);
        await running.stream.stop();
      }
    }
    for (const registration of registered) {
      const trigger = byId.get(registration.trigger_id);
      const settings = trigger?.settings as DatabaseTriggerSettings | undefined;
      // Gone, or now reading another secret's database: the old slot must not stay behind.
      if (!trigger || settings?.connectionSecret !== registration.connection_secret) {
        await this.#drop(registration);
      }
    }
    for (const trigger of triggers) {
      if (trigger.paused || this.#running.has(trigger.id) || !trigger.settings) continue;
      if (!this.#options.isLeader() || this.#stopped) break;
      const registration = registrations.get(trigger.id);
      const settings = trigger.settings as DatabaseTriggerSettings;
      if (registration && registration.connection_secret !== settings.connectionSecret) continue;
      this.#startStream(trigger, settings);
    }
  }

  #startStream(trigger: TriggerRow, settings: DatabaseTriggerSettings): void {
    const { secretBox } = this.#options;
    const store = this.#options.platform.tenant(trigger.tenant_id);
    const stream = new ChangeStream({
      trigger,
      settings,
      connection: () => openTenantSecret(store, settings.connectionSecret, secretBox),
      platform: this.#options.platform,
      slots: this.#slots,
      sender: this.#options.sender,
      recorder: this.#options.recorder,
      secretBox,
      retryBaseMs: this.#options.retryBaseMs,
      retryMaxMs: this.#options.retryMaxMs,
      log: this.#options.log,
    });
    this.#running.set(trigger.id, { stream, fingerprint: fingerprint(trigger) });
    stream.start();
  }

  /** Drops a slot and publication with the scheduler's sealed copy of the connection string. */
  async #drop(registration: TriggerSlotRow): Promise<void> {
    const id = registration.trigger_id;
    const retry = this.#dropRetryAt.get(id);
    if (retry && Date.now() < retry.at) return;
    const box = this.#options.secretBox;
    try {
      if (!box) throw new Error("no KUMO_MASTER_KEY to open the connection string");
      const connection = box.open(
        registration.sealed_connection,
        triggerSlotContext(registration.tenant_id, id),
      );
      const setup = await ReplicationSetup.connect(connection, registration.connection_secret);
      try {
        await setup.drop(registration.slot, registration.publication);
      } finally {
        await setup.close();
      }
      await this.#slots.unregister(id);
      this.#dropRetryAt.delete(id);
      this.#options.log(`database trigger ${id}: dropped slot and publication ${registration.slot}`);
    } catch (error) {
      // The server is down or refuses: the slot keeps WAL until it answers, so keep trying.
      const delay = Math.min(this.#options.retryMaxMs, (retry?.delay ?? this.#options.retryBaseMs) * 2);
      this.#dropRetryAt.set(id, { at: Date.now() + delay, delay });
      this.#options.log(
        `database trigger ${id}: cannot drop slot ${registration.slot}: ${errorMessage(error)}`,
      );
    }
  }

  async #stopAll(): Promise<void> {
    const running = [...this.#running.values()];
    this.#running.clear();
    await Promise.all(running.map((r) => r.stream.stop()));
  }
}

/** A trigger's stream restarts when any of this changes. */
function fingerprint(trigger: TriggerRow): string {
  return JSON.stringify([trigger.target, trigger.function_id, trigger.settings]);
}
