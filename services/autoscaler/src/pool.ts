import type { ColdStartKind } from "@kumo/core";
import { KumoError } from "@kumo/core";
import type { Instance } from "./instance.ts";
import type { VersionSpec } from "./version-catalog.ts";

export type PoolState = "active" | "draining" | "stopped";

export interface PoolLimits {
  /** Invocations one instance runs at once. */
  concurrency: number;
  minInstances: number;
  maxInstances: number;
  /** In-flight invocations of the version on this node; beyond it requests queue, then FN_007. */
  maxConcurrency: number;
  idleTtlMs: number;
  pauseAfterMs: number;
  queueTimeoutMs: number;
}

export interface Lease {
  instance: Instance;
  coldStart: ColdStartKind;
  queueMs: number;
}

interface Waiter {
  enqueuedAt: number;
  deadline: number;
  resolve(lease: Lease): void;
  reject(error: KumoError): void;
  timer: NodeJS.Timeout;
}

export interface PoolOptions {
  spec: VersionSpec;
  limits: PoolLimits;
  /** Starts one instance of the version (from a stem cell when one is available). */
  startInstance(spec: VersionSpec): Promise<Instance>;
  onError(error: unknown): void;
}

/**
 * The warm instances of one version (and env) on this node. Requests take a slot on the least
 * recently started instance with room, so extra instances go idle and are paused, then removed
 * after the idle TTL; demand beyond the slots starts instances up to maxInstances.
 */
export class Pool {
  readonly spec: VersionSpec;
  readonly limits: PoolLimits;
  state: PoolState = "active";
  readonly instances: Instance[] = [];
  #starting = 0;
  #inFlight = 0;
  #waiters: Waiter[] = [];
  readonly #options: PoolOptions;
  #drained: (() => void) | undefined;
  #minStartsAfter = 0;

  constructor(options: PoolOptions) {
    this.spec = options.spec;
    this.limits = options.limits;
    this.#options = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get size(): number {
    return this.instances.length + this.#starting;
  }

  /** A slot on an instance: at once when one is free, else after a queue wait (FN_007 when saturated). */
  acquire(deadline: number): Promise<Lease> {
    if (this.state !== "active")
      return Promise.reject(new KumoError("FN_008", "the version is draining on this node"));
    const now = Date.now();
    if (this.#waiters.length === 0 && this.#inFlight < this.limits.maxConcurrency) {
      const instance = this.#free();
      if (instance) return Promise.resolve(this.#lease(instance, now));
    }
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        enqueuedAt: now,
        deadline,
        resolve,
        reject,
        timer: setTimeout(() => this.#expire(waiter), Math.max(1, this.#waitBudget(deadline))),
      };
      this.#waiters.push(waiter);
      this.#scale();
    });
  }

  /** Gives the slot back; `broken` instances (crashed, hung) are removed and replaced on demand. */
  release(lease: Lease, broken = false): void {
    const instance = lease.instance;
    instance.inFlight--;
    this.#inFlight--;
    instance.lastUsed = Date.now();
    if (broken) this.#remove(instance);
    this.#dispatch();
    this.#scale();
    if (this.state === "draining" && this.#inFlight === 0 && this.#waiters.length === 0) this.#finishDrain();
  }

  /** This node's share of the version's cluster-wide maxConcurrency (0: the node runs none). */
  setMaxConcurrency(count: number): void {
    this.limits.maxConcurrency = Math.max(0, count);
    this.#dispatch();
  }

  /** This node's share of the version's minInstances (kept warm, never paused nor reaped). */
  setMinInstances(count: number): void {
    this.limits.minInstances = Math.max(0, Math.min(count, this.limits.maxInstances));
  }

  /** Idle housekeeping: pause, scale to zero after the idle TTL, keep minInstances warm. */
  reap(now: number): void {
    if (this.state !== "active") return;
    let kept = 0;
    for (const instance of [...this.instances]) {
      if (instance.state === "ready" && instance.inFlight === 0) {
        const idle = now - instance.lastUsed;
        if (kept < this.limits.minInstances) {
          kept++;
          continue;
        }
        if (idle >= this.limits.idleTtlMs) this.#remove(instance);
        else if (idle >= this.limits.pauseAfterMs) void instance.pause();
      } else if (instance.state === "paused") {
        if (now - instance.lastUsed >= this.limits.idleTtlMs && kept >= this.limits.minInstances)
          this.#remove(instance);
        else kept++;
      } else kept++;
    }
    // A version whose instances fail to start is not retried on every tick.
    if (now < this.#minStartsAfter) return;
    while (this.size < this.limits.minInstances) this.#startOne(true);
  }

  /** Stops taking work, lets in-flight invocations finish, then removes every instance. */
  drain(): Promise<void> {
    if (this.state === "stopped") return Promise.resolve();
    this.state = "draining";
    return new Promise((resolve) => {
      this.#drained = resolve;
      if (this.#inFlight === 0 && this.#waiters.length === 0) this.#finishDrain();
    });
  }

  /** Removes everything now (node shutdown); queued requests fail with FN_008. */
  async stop(): Promise<void> {
    this.state = "stopped";
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new KumoError("FN_008", "the node is shutting down"));
    }
    await Promise.all(this.instances.splice(0).map((i) => i.destroy()));
    this.#drained?.();
  }

  #finishDrain(): void {
    this.state = "stopped";
    const all = this.instances.splice(0);
    void Promise.all(all.map((i) => i.destroy())).then(() => this.#drained?.());
  }

  #free(): Instance | undefined {
    for (const instance of this.instances) {
      if (instance.state === "ready" && instance.inFlight < instance.concurrency) return instance;
    }
    return undefined;
  }

  #lease(instance: Instance, enqueuedAt: number): Lease {
    instance.inFlight++;
    this.#inFlight++;
    instance.lastUsed = Date.now();
    const coldStart = instance.startKind;
    instance.startKind = "warm";
    return { instance, coldStart, queueMs: Date.now() - enqueuedAt };
  }

  #dispatch(): void {
    while (this.#waiters.length > 0 && this.#inFlight < this.limits.maxConcurrency) {
      const instance = this.#free();
      if (!instance) break;
      const waiter = this.#waiters.shift();
      if (!waiter) break;
      clearTimeout(waiter.timer);
      waiter.resolve(this.#lease(instance, waiter.enqueuedAt));
    }
  }

  /** Starts (or unpauses) instances for the queued demand that pending starts will not cover. */
  #scale(): void {
    if (this.state !== "active") return;
    let demand = Math.min(this.#waiters.length, this.limits.maxConcurrency - this.#inFlight);
    for (const instance of this.instances) {
      if (demand <= 0) return;
      if (instance.state === "paused") {
        instance.state = "starting";
        instance.startKind = "unpaused";
        demand -= instance.concurrency;
        instance.unpause().then(
          () => this.#dispatch(),
          (error: unknown) => {
            this.#options.onError(error);
            this.#remove(instance);
            this.#scale();
          },
        );
      }
    }
    demand -= this.#starting * this.limits.concurrency;
    while (demand > 0 && this.size < this.limits.maxInstances) {
      this.#startOne();
      demand -= this.limits.concurrency;
    }
  }

  /** `prewarm`: started for minInstances, not for a request (no one waited for it to come up). */
  #startOne(prewarm = false): void {
    this.#starting++;
    this.#options.startInstance(this.spec).then(
      (instance) => {
        this.#starting--;
        if (this.state !== "active") {
          void instance.destroy();
          return;
        }
        if (prewarm && this.#waiters.length === 0) instance.startKind = "warm";
        this.instances.push(instance);
        void instance.exited.then(() => {
          this.#remove(instance);
          this.#scale();
        });
        this.#dispatch();
      },
      (error: unknown) => {
        this.#starting--;
        this.#minStartsAfter = Date.now() + 5000;
        this.#options.onError(error);
        // Nothing will come up for the queued requests: fail them with the start's error.
        if (this.size === 0) {
          const failure =
            error instanceof KumoError
              ? error
              : new KumoError("FN_008", `cold start failed: ${String(error)}`);
          for (const waiter of this.#waiters.splice(0)) {
            clearTimeout(waiter.timer);
            waiter.reject(failure);
          }
        }
      },
    );
  }

  #remove(instance: Instance): void {
    const at = this.instances.indexOf(instance);
    if (at >= 0) this.instances.splice(at, 1);
    if (instance.state !== "stopped") void instance.destroy();
  }

  /** Saturated pools queue briefly; a pool that is starting instances waits for them up to the deadline. */
  #waitBudget(deadline: number): number {
    const left = deadline - Date.now();
    return this.#saturated() ? Math.min(this.limits.queueTimeoutMs, left) : left;
  }

  #saturated(): boolean {
    return (
      this.#inFlight >= this.limits.maxConcurrency ||
      (this.size >= this.limits.maxInstances && this.#starting === 0)
    );
  }

  #expire(waiter: Waiter): void {
    const at = this.#waiters.indexOf(waiter);
    if (at < 0) return;
    this.#waiters.splice(at, 1);
    if (this.#saturated()) {
      waiter.reject(
        new KumoError(
          "FN_007",
          `concurrency limit reached: ${this.#inFlight} invocations of this version are running (limit ${this.limits.maxConcurrency}); retry later`,
        ),
      );
    } else if (Date.now() >= waiter.deadline) {
      waiter.reject(new KumoError("FN_002", "timed out waiting for an instance of the function"));
    } else {
      // Instances are starting but the saturation check was stale: wait out the rest of the budget.
      waiter.timer = setTimeout(() => this.#expire(waiter), Math.max(1, waiter.deadline - Date.now()));
      this.#waiters.push(waiter);
    }
  }
}
