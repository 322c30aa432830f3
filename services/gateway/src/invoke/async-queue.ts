import { createHash } from "node:crypto";
import {
  AsyncInvocations,
  decodeFrame,
  encodeFrame,
  type InvokeRequestMeta,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type KV,
  Kvm,
  type NatsConnection,
  streamReplicas,
  streams,
  subjects,
} from "@kumo/bus";
import type { DeployedVersion, InvocationRequest } from "@kumo/core";
import { KumoError, notFound } from "@kumo/core";
import {
  type InvocationRow,
  notQueuedInvocation,
  queuedInvocation,
  type Recorder,
  recordSeq,
  type TenantStore,
} from "@kumo/db";
import type { ResolvedFunction } from "./function-resolver.ts";

export interface AsyncQueueOptions {
  nc: NatsConnection;
  namespace: string;
  recorder: Recorder;
  idempotencyWindowMs: number;
}

export interface EnqueueOptions {
  /** JetStream dedupe id; default the invocation id. Trigger firings pass `triggerId:slot`. */
  msgId?: string;
  /** The trigger that fired it; its records name it. */
  triggerId?: string;
  /**
   * Write the "queued" record now (default). Event fan-out passes false: its deliveries table
   * already says what was queued, and the node that runs the invocation writes its record.
   */
  recordQueued?: boolean;
}

export interface Enqueued {
  invocationId: string;
  /** True when the idempotency key was seen before: nothing new was queued. */
  replay: boolean;
}

/**
 * The gateway's side of async invocations: one JetStream message per invocation on the version's
 * subject (work-queue stream), a "queued" record, idempotency keys in a KV bucket whose entries
 * expire after the window, request bodies larger than a NATS message in an object store, and the
 * redrive of dead letters back into the work queue.
 */
export class AsyncQueue {
  readonly #options: AsyncQueueOptions;
  readonly #sender: AsyncInvocations;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #keys: KV | undefined;

  constructor(options: AsyncQueueOptions) {
    this.#options = options;
    this.#sender = new AsyncInvocations({ nc: options.nc, namespace: options.namespace });
  }

  /** Fails publishes still waiting for the stream (the gateway is stopping). */
  stop(): void {
    this.#sender.stop();
  }

  async start(): Promise<void> {
    const { nc, namespace } = this.#options;
    this.#jsm = await jetstreamManager(nc);
    await this.#sender.start();
    this.#js = jetstream(nc);
    this.#keys = await new Kvm(nc).create(streams.idempotency(namespace), {
      ttl: this.#options.idempotencyWindowMs,
      replicas: streamReplicas(nc),
    });
  }

  async enqueue(
    resolved: ResolvedFunction,
    target: DeployedVersion,
    request: InvocationRequest,
    idempotencyKey: string | undefined,
    options: EnqueueOptions = {},
  ): Promise<Enqueued> {
    const js = this.#js;
    const keys = this.#keys;
    if (!js || !keys)
      throw new KumoError("FN_008", "async invocations are not available: the gateway has no JetStream");
    let keyName: string | undefined;
    if (idempotencyKey) {
      keyName = `${resolved.tenantId}.${resolved.fn.id}.${createHash("sha256").update(idempotencyKey).digest("hex")}`;
      try {
        await keys.create(keyName, request.invocationId);
      } catch {
        const first = await keys.get(keyName);
        if (first?.string()) return { invocationId: first.string(), replay: true };
        throw new KumoError("FN_008", "could not record the idempotency key; retry the request");
      }
    }
    const queuedAt = Date.now();
    const triggerId = options.triggerId;
    const record = queuedInvocation(target, request, queuedAt, { idempotencyKey, triggerId });
    // The 202 waits for the stream's acknowledgement only: the "queued" record joins the recorder's
    // next batch (GET /v1/invocations/:id flushes it on a miss, so this gateway reads its own
    // writes). A record that never lands loses nothing: the message is in the stream, and the
    // node that runs it upserts the whole record.
    let recorded = false;
    try {
      const stored = this.#sender.publish(target, request, {
        msgId: options.msgId ?? request.invocationId,
        queuedAt,
        triggerId,
      });
      if (options.recordQueued !== false) {
        this.#options.recorder.record(record);
        recorded = true;
      }
      await stored;
    } catch (error) {
      if (keyName) await keys.delete(keyName).catch(() => {});
      // The record went out with the message that failed: say so instead of "queued" forever.
      if (recorded) this.#options.recorder.record(notQueuedInvocation(record));
      throw error instanceof KumoError
        ? error
        : new KumoError("FN_008", `could not queue the invocation: ${String(error)}`, { cause: error });
    }
    return { invocationId: request.invocationId, replay: false };
  }

  /** Moves a dead letter back into the work queue; its attempts keep counting. */
  async redrive(store: TenantStore, invocation: InvocationRow): Promise<void> {
    const js = this.#js;
    const jsm = this.#jsm;
    if (!js || !jsm)
      throw new KumoError("FN_008", "async invocations are not available: the gateway has no JetStream");
    const seq = invocation.dead_letter_seq;
    if (seq === null) throw notFound(`dead letter "${invocation.id}"`);
    const ns = this.#options.namespace;
    const stored = await jsm.streams
      .getMessage(streams.deadLetters(ns), { seq: Number(seq) })
      .catch(() => null);
    if (!stored || stored.subject !== subjects.deadLetter(invocation.tenant_id, invocation.function_id, ns)) {
      throw notFound(`dead letter "${invocation.id}" (it expired from the dead-letter stream)`);
    }
    const { meta, payload } = decodeFrame<InvokeRequestMeta>(stored.data);
    meta.attemptBase = invocation.attempts;
    meta.queuedAt = Date.now();
    const nextSeq = recordSeq(invocation.attempts + 1, "queued");
    if (!(await store.invocations.requeueDeadLetter(invocation.id, String(seq), nextSeq))) {
      throw new KumoError(
        "FN_006",
        `invocation "${invocation.id}" is no longer a dead letter (redriven already?)`,
        {
          status: 409,
        },
      );
    }
    await js.publish(
      subjects.asyncInvoke(meta.versionId, ns),
      encodeFrame(meta, payload.byteLength > 0 ? payload : undefined),
      {
        msgID: `${invocation.id}:redrive:${invocation.attempts}`,
      },
    );
    await jsm.streams.deleteMessage(streams.deadLetters(ns), Number(seq)).catch(() => false);
  }
}
