import type { ErrorBody } from "@kumo/core";
import type { HostSettings, IsolateLimits } from "../host-protocol.ts";
import { type CompiledBootstrap, FunctionIsolate, type IsolateHooks } from "./function-isolate.ts";

export interface Specialization {
  key: string;
  versionId: string;
  functionName: string;
  version: number;
  limits: IsolateLimits;
  code: string;
  env: Record<string, string>;
  handlerShape?: string | undefined;
}

interface CodeEntry {
  code: string;
  env: Record<string, string>;
  handlerShape?: string | undefined;
}

/**
 * The warm isolates of one host process: an LRU bounded in count, with idle eviction, plus a few
 * spare isolates whose bootstrap has already run so a cold start only evaluates tenant code.
 * Keys are tenant + version + env digest, so an isolate is never shared across tenants or envs.
 */
export class IsolatePool {
  readonly #warm = new Map<string, FunctionIsolate>();
  readonly #creating = new Map<string, Promise<FunctionIsolate | ErrorBody>>();
  /** Code and env by key, so an isolate disposed after a violation is rebuilt without a round trip. */
  readonly #code = new Map<string, CodeEntry>();
  readonly #spares: FunctionIsolate[] = [];
  readonly #settings: HostSettings;
  readonly #bootstrap: CompiledBootstrap;
  readonly #hooks: IsolateHooks;
  #refill: NodeJS.Timeout | null = null;
  readonly #sweeper: NodeJS.Timeout;
  readonly #watchdog: NodeJS.Timeout;

  constructor(settings: HostSettings, bootstrap: CompiledBootstrap, hooks: IsolateHooks) {
    this.#settings = settings;
    this.#bootstrap = bootstrap;
    this.#hooks = hooks;
    this.#sweeper = setInterval(
      () => this.#sweep(),
      Math.max(1000, Math.min(settings.idleTtlMs / 2, 30_000)),
    );
    this.#sweeper.unref();
    this.#watchdog = setInterval(() => {
      for (const isolate of this.#warm.values()) isolate.checkCpu();
    }, 10);
    this.#watchdog.unref();
    this.#scheduleRefill();
  }

  get warmCount(): number {
    return this.#warm.size;
  }

  get fetchLimit(): number {
    return this.#settings.fetch.maxSubrequests;
  }

  get spareCount(): number {
    return this.#spares.length;
  }

  /** The warm isolate for a key, touched for LRU order; undefined when a cold start is needed. */
  warm(key: string): FunctionIsolate | undefined {
    const isolate = this.#warm.get(key);
    if (!isolate) return undefined;
    if (isolate.disposed) {
      this.#warm.delete(key);
      return undefined;
    }
    this.#warm.delete(key);
    this.#warm.set(key, isolate);
    return isolate;
  }

  hasCode(key: string): boolean {
    return this.#code.has(key);
  }

  /** Creates (or joins the creation of) the isolate for a key. */
  async create(
    spec: Omit<Specialization, "code" | "env"> & Partial<CodeEntry>,
  ): Promise<FunctionIsolate | ErrorBody> {
    const pending = this.#creating.get(spec.key);
    if (pending) return pending;
    if (spec.code !== undefined)
      this.#rememberCode(spec.key, { code: spec.code, env: spec.env ?? {}, handlerShape: spec.handlerShape });
    const entry = this.#code.get(spec.key);
    if (!entry) return { code: "FN_500", message: "code for the function version is missing" };
    const promise = this.#build({ ...spec, ...entry }).finally(() => this.#creating.delete(spec.key));
    this.#creating.set(spec.key, promise);
    return promise;
  }

  async #build(spec: Specialization): Promise<FunctionIsolate | ErrorBody> {
    let isolate: FunctionIsolate;
    try {
      isolate = await this.#takeSpare(spec.limits.memoryMb);
    } catch (error) {
      return { code: "FN_008", message: `could not create an isolate: ${(error as Error).message}` };
    }
    try {
      await isolate.specialize(spec.key, spec.versionId, spec.code, spec.env, {
        functionName: spec.functionName,
        version: spec.version,
        limits: spec.limits,
        maxSubrequests: this.#settings.fetch.maxSubrequests,
        handlerShape: spec.handlerShape,
      });
    } catch (error) {
      isolate.dispose();
      return error as ErrorBody;
    }
    this.#warm.set(spec.key, isolate);
    this.#enforceBound();
    return isolate;
  }

  async #takeSpare(memoryMb: number): Promise<FunctionIsolate> {
    const index = this.#spares.findIndex((s) => s.memoryMb === memoryMb);
    this.#scheduleRefill();
    if (index >= 0) {
      const [spare] = this.#spares.splice(index, 1);
      if (spare) return spare;
    }
    return FunctionIsolate.create(this.#bootstrap, memoryMb, this.#hooks);
  }

  #scheduleRefill(): void {
    if (this.#refill || this.#spares.length >= this.#settings.spareIsolates) return;
    this.#refill = setTimeout(() => {
      if (this.#spares.length >= this.#settings.spareIsolates || this.#closed) {
        this.#refill = null;
        return;
      }
      FunctionIsolate.create(this.#bootstrap, this.#settings.spareMemoryMb, this.#hooks).then(
        (spare) => {
          this.#refill = null;
          if (this.#closed) spare.dispose();
          else this.#spares.push(spare);
          this.#scheduleRefill();
        },
        () => {
          this.#refill = null;
        },
      );
    }, 1);
  }

  #rememberCode(key: string, entry: CodeEntry): void {
    this.#code.delete(key);
    this.#code.set(key, entry);
    const bound = this.#settings.maxIsolates * 2;
    for (const old of this.#code.keys()) {
      if (this.#code.size <= bound) break;
      if (!this.#warm.has(old)) this.#code.delete(old);
    }
  }

  /** Drops an isolate after a violation; the next request builds a fresh one. */
  discard(isolate: FunctionIsolate): void {
    if (this.#warm.get(isolate.key) === isolate) this.#warm.delete(isolate.key);
  }

  evictVersion(versionId: string): void {
    for (const [key, isolate] of this.#warm) {
      if (isolate.versionId === versionId) {
        this.#warm.delete(key);
        isolate.dispose();
      }
    }
    for (const key of this.#code.keys()) if (key.includes(`:${versionId}:`)) this.#code.delete(key);
  }

  #enforceBound(): void {
    for (const [key, isolate] of this.#warm) {
      if (this.#warm.size <= this.#settings.maxIsolates) break;
      if (isolate.inflight.size > 0) continue;
      this.#warm.delete(key);
      isolate.dispose();
    }
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#settings.idleTtlMs;
    for (const [key, isolate] of this.#warm) {
      if (isolate.disposed || (isolate.lastUsed < cutoff && isolate.inflight.size === 0)) {
        this.#warm.delete(key);
        isolate.dispose();
      }
    }
  }

  heapBytes(): number[] {
    return Array.from(this.#warm.values(), (isolate) => isolate.heapBytes());
  }

  #closed = false;

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    clearInterval(this.#watchdog);
    if (this.#refill) clearTimeout(this.#refill);
    for (const isolate of [...this.#warm.values(), ...this.#spares]) isolate.dispose();
    this.#warm.clear();
    this.#spares.length = 0;
  }
}
