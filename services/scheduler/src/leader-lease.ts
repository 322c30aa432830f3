import { type KV, Kvm, type NatsConnection, streamReplicas, streams } from "@kumo/bus";

export interface LeaderLeaseOptions {
  nc: NatsConnection;
  namespace: string;
  /** Who holds the lease, for humans reading the bucket. */
  holder: string;
  /** The lease lives this long unless renewed; renewals come every third of it. */
  ttlMs: number;
  log?: (line: string) => void;
}

export type LeaseState = "starting" | "following" | "leading" | "stopped";

/**
 * One leader among scheduler processes: a key in a NATS KV bucket whose entries expire after
 * `ttlMs`. A follower creates the key (only possible when it is absent, i.e. expired or released);
 * the leader renews it with a compare-and-set on its revision, so two processes can never both
 * renew. A leader that cannot renew stops leading once its last renewal is older than the TTL minus
 * a margin, before anyone else can take over; a survivor takes over within one TTL.
 */
export class LeaderLease {
  readonly #options: LeaderLeaseOptions;
  #kv: KV | undefined;
  #state: LeaseState = "starting";
  #revision = 0;
  #renewedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();

  constructor(options: LeaderLeaseOptions) {
    this.#options = options;
  }

  get state(): LeaseState {
    return this.#state;
  }

  /** True while this process holds an unexpired lease (with a margin for clock and network delay). */
  isLeader(now = Date.now()): boolean {
    return this.#state === "leading" && now - this.#renewedAt < this.#options.ttlMs * 0.8;
  }

  async start(): Promise<void> {
    const name = streams.schedulerLease(this.#options.namespace);
    const kvm = new Kvm(this.#options.nc);
    const replicas = streamReplicas(this.#options.nc);
    this.#kv = await kvm
      .create(name, { ttl: this.#options.ttlMs, history: 1, replicas })
      .catch(() => kvm.open(name));
    this.#state = "following";
    await this.#tryRound();
    this.#timer = setInterval(
      () => {
        this.#round = this.#round.then(() => this.#tryRound());
      },
      Math.max(100, Math.floor(this.#options.ttlMs / 3)),
    );
    this.#timer.unref();
  }

  /** Stops renewing; with `release` the key is deleted so a follower takes over at once. */
  async stop(release = true): Promise<void> {
    clearInterval(this.#timer);
    await this.#round;
    const wasLeading = this.#state === "leading";
    this.#state = "stopped";
    if (release && wasLeading && this.#kv) {
      await this.#kv
        .delete(streams.schedulerLeaderKey, { previousSeq: this.#revision })
        .catch(() => undefined);
    }
  }

  async #tryRound(): Promise<void> {
    const kv = this.#kv;
    if (!kv || this.#state === "stopped") return;
    const key = streams.schedulerLeaderKey;
    const value = JSON.stringify({ holder: this.#options.holder, at: new Date().toISOString() });
    const attemptAt = Date.now();
    try {
      if (this.#state === "leading") {
        this.#revision = await kv.update(key, value, this.#revision);
      } else {
        this.#revision = await kv.create(key, value);
        this.#state = "leading";
        this.#options.log?.(`${this.#options.holder} leads the schedulers`);
      }
      this.#renewedAt = attemptAt;
    } catch (error) {
      if (this.#state === "leading" && isRevisionConflict(error)) {
        // Someone else holds the key: our lease expired unnoticed (a long pause).
        this.#state = "following";
        this.#options.log?.(`${this.#options.holder} lost the lead`);
      }
      // Else: the key is held by another process (following), or NATS is unreachable; a leader
      // then stops leading by time (isLeader) and keeps trying.
    }
  }
}

function isRevisionConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code === 10071 || /wrong last sequence/i.test(message);
}
