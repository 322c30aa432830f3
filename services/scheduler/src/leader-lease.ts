import { jetstream, type KV, Kvm, type NatsConnection, streamReplicas, streams } from "@kumo/bus";

export interface LeaderLeaseOptions {
  nc: NatsConnection;
  namespace: string;
  /** Who holds the lease, for humans reading the bucket; unique per process. */
  holder: string;
  /** The lease lives this long unless renewed; renewals come every third of it. */
  ttlMs: number;
  log?: (line: string) => void;
}

export type LeaseState = "starting" | "following" | "leading" | "stopped";

/**
 * One leader among scheduler processes: a key in a NATS KV bucket. A follower creates the key
 * (only possible when it is absent: expired or released); the leader renews it with a
 * compare-and-set on its revision, so two processes can never both renew. A leader that cannot
 * renew stops leading once its last renewal is older than the TTL minus a margin.
 *
 * The bucket's max age expires a dead leader's key, but the takeover does not depend on it: a
 * follower that sees the same revision for longer than the TTL by its own clock (as client-go's
 * leader election does) takes the key over with a compare-and-set on that revision. nats-server
 * has been seen keeping an expired key on some replicas (nats-server#3653), which left a lease
 * with no holder until a scheduler restarted. A leader whose renewal reached the stream but whose
 * acknowledgement was lost (a NATS node died in between) finds its own holder in the key and goes
 * on from that revision instead of waiting for its own key to expire.
 */
export class LeaderLease {
  readonly #options: LeaderLeaseOptions;
  #kv: KV | undefined;
  #state: LeaseState = "starting";
  #revision = 0;
  #renewedAt = 0;
  /** The revision a follower last saw in the key, and when (its clock) it first saw it. */
  #seen: { revision: number; at: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;

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
    await kvm.create(name, { ttl: this.#options.ttlMs, history: 1, replicas }).catch(() => kvm.open(name));
    // The rounds use a client whose calls give up within a renewal period: a call sent while the
    // stream had no leader (its NATS node died, the stream elects one) may never be answered, and
    // as rounds do not overlap, one that waited longer would hold back the next round, the one that
    // may find the stream taking writes again (with 0.75 × TTL, as before, up to two rounds were
    // skipped). Opened by name, the bucket's reads go to the stream leader, not a replica that may
    // lag behind.
    const period = Math.max(100, Math.floor(this.#options.ttlMs / 3));
    const timeout = Math.max(250, Math.floor(period * 0.9));
    this.#kv = await new Kvm(jetstream(this.#options.nc, { timeout, checkAPI: false })).open(name);
    this.#state = "following";
    await this.#tryRound();
    this.#timer = setInterval(() => {
      // A round still waiting for NATS is not queued behind: the next tick tries again.
      if (this.#round) return;
      this.#round = this.#tryRound().finally(() => {
        this.#round = undefined;
      });
    }, period);
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
        this.#lead("leads the schedulers");
      }
      this.#renewedAt = attemptAt;
    } catch (error) {
      // Else NATS is unreachable or the stream has no leader: a leader then stops leading by time
      // (isLeader) and keeps trying.
      if (isRevisionConflict(error)) await this.#contend(kv, value, attemptAt).catch(() => undefined);
    }
  }

  /** The key holds another revision than ours (or exists when we tried to create it). */
  async #contend(kv: KV, value: string, attemptAt: number): Promise<void> {
    const key = streams.schedulerLeaderKey;
    const entry = await kv.get(key).catch(() => undefined);
    if (entry === undefined) return;
    const live = entry !== null && entry.operation === "PUT";
    const holder = live ? holderOf(entry.string()) : undefined;
    if (live && holder === this.#options.holder) {
      // Our own renewal, stored though its acknowledgement never came: go on from it.
      this.#revision = await kv.update(key, value, entry.revision);
      this.#renewedAt = attemptAt;
      if (this.#state !== "leading") this.#lead("leads the schedulers again (its own key)");
      return;
    }
    if (this.#state === "leading") {
      // Someone else holds the key: our lease expired unnoticed (a long pause).
      this.#state = "following";
      this.#options.log?.(`${this.#options.holder} lost the lead`);
    }
    if (entry === null) {
      this.#seen = undefined;
      return;
    }
    const now = Date.now();
    if (this.#seen?.revision !== entry.revision) {
      this.#seen = { revision: entry.revision, at: now };
      return;
    }
    if (now - this.#seen.at <= this.#options.ttlMs) return;
    // Unchanged for longer than a lease lives: its holder stopped renewing, and its key was not
    // expired by the server. The compare-and-set fails if the holder renewed after all.
    this.#revision = await kv.update(key, value, entry.revision);
    this.#renewedAt = attemptAt;
    this.#lead(
      `takes over the lead from ${holder ?? "a released key"} (unchanged for ${now - this.#seen.at} ms)`,
    );
  }

  #lead(what: string): void {
    this.#state = "leading";
    this.#seen = undefined;
    this.#options.log?.(`${this.#options.holder} ${what}`);
  }
}

function holderOf(value: string): string | undefined {
  try {
    const parsed = JSON.parse(value) as { holder?: unknown };
    return typeof parsed.holder === "string" ? parsed.holder : undefined;
  } catch {
    return undefined;
  }
}

function isRevisionConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return code === 10071 || code === 10164 || /wrong last sequence/i.test(message);
}
