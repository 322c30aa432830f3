import { createHash } from "node:crypto";
import {
  decodeFrame,
  encodeFrame,
  ensureInvocationStreams,
  type InvokeRequestMeta,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type KV,
  Kvm,
  maxFramePayload,
  type NatsConnection,
  type ObjectStore,
  Objm,
  StreamPublisher,
  streams,
  subjects,
} from "@kumo/bus";
import type { DeployedVersion, InvocationRequest } from "@kumo/core";
import { KumoError, notFound } from "@kumo/core";
import { type InvocationRow, type NewInvocation, type Recorder, recordSeq, type TenantStore } from "@kumo/db";
import type { ResolvedFunction } from "./function-resolver.ts";
import { invocationRecord } from "./invocation-record.ts";
import { invokeRequestMeta } from "./invoke-request-meta.ts";

export interface AsyncQueueOptions {
  nc: NatsConnection;
  namespace: string;
  recorder: Recorder;
  idempotencyWindowMs: number;
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
  #js: JetStreamClient | undefined;
  #publisher: StreamPublisher | undefined;
  #jsm: JetStreamManager | undefined;
  #keys: KV | undefined;
  #payloads: Promise<ObjectStore> | undefined;

  constructor(options: AsyncQueueOptions) {
    this.#options = options;
  }

  /** Fails publishes still waiting for the stream (the gateway is stopping). */
  stop(): void {
    this.#publisher?.stop();
  }

  async start(): Promise<void> {
    const { nc, namespace } = this.#options;
    this.#jsm = await jetstreamManager(nc);
    await ensureInvocationStreams(this.#jsm, { namespace });
    this.#js = jetstream(nc);
    this.#publisher = new StreamPublisher(nc);
    this.#keys = await new Kvm(nc).create(streams.idempotency(namespace), {
      ttl: this.#options.idempotencyWindowMs,
    });
  }

  async enqueue(
    resolved: ResolvedFunction,
    target: DeployedVersion,
    request: InvocationRequest,
    idempotencyKey: string | undefined,
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
    const publisher = this.#publisher;
    const record: NewInvocation = Object.assign(invocationRecord(resolved, request, queuedAt), {
      status: "queued" as const,
      attempts: 0,
      record_seq: recordSeq(1, "queued"),
      idempotency_key: idempotencyKey ?? null,
    });
    // The 202 waits for the stream's acknowledgement only: the "queued" record joins the recorder's
    // next batch (GET /v1/invocations/:id flushes it on a miss, so this gateway reads its own
    // writes). A record that never lands loses nothing: the message is in the stream, and the
    // node that runs it upserts the whole record.
    let recorded = false;
    try {
      if (!publisher) throw new KumoError("FN_008", "async invocations are not available");
      const body = request.body && request.body.byteLength > 0 ? request.body : null;
      const meta: InvokeRequestMeta = invokeRequestMeta(target, request, body?.byteLength ?? 0);
      meta.queuedAt = queuedAt;
      meta.attemptBase = 0;
      let inline = body;
      if (body && body.byteLength > maxFramePayload(this.#options.nc.info?.max_payload)) {
        // A JetStream message is bounded by max_payload: large bodies wait in the object store.
        await (await this.#payloadStore()).putBlob({ name: request.invocationId }, body);
        meta.payloadObject = request.invocationId;
        inline = null;
      }
      const stored = publisher.publish(
        subjects.asyncInvoke(target.versionId, this.#options.namespace),
        encodeFrame(meta, inline ?? undefined),
        request.invocationId,
      );
      this.#options.recorder.record(record);
      recorded = true;
      await stored;
    } catch (error) {
      if (keyName) await keys.delete(keyName).catch(() => {});
      if (recorded) {
        // The record went out with the message that failed: say so instead of "queued" forever.
        this.#options.recorder.record({
          ...record,
          status: "failed",
          error_code: "FN_008",
          error_message: "the invocation could not be queued",
          record_seq: recordSeq(1, "finished"),
          finished_at: new Date(),
        });
      }
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

  #payloadStore(): Promise<ObjectStore> {
    this.#payloads ??= new Objm(this.#options.nc).create(streams.payloads(this.#options.namespace));
    return this.#payloads;
  }
}
