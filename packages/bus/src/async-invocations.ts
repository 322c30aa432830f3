import type { InvocationRequest } from "@kumo/core";
import {
  ATTR,
  contextOf,
  endSpan,
  faasTriggerOf,
  invocationAttributes,
  SpanKind,
  tracerFor,
  withTraceparent,
} from "@kumo/telemetry";
import { jetstreamManager } from "@nats-io/jetstream";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { encodeFrame, type InvokeRequestMeta, maxFramePayload } from "./invocation-frame.ts";
import { ensureInvocationStreams } from "./invocation-streams.ts";
import { type InvocationTarget, invokeRequestMeta } from "./invoke-request-meta.ts";
import { streamReplicas } from "./replicas.ts";
import { type StreamAck, StreamPublisher } from "./stream-publisher.ts";
import { streams, subjects } from "./subjects.ts";

export interface AsyncInvocationsOptions {
  nc: NatsConnection;
  namespace: string;
}

export interface PublishAsyncOptions {
  /** JetStream's dedupe id (Nats-Msg-Id): a second publish within the stream's window is dropped. */
  msgId: string;
  queuedAt: number;
  /** The trigger that fired it, carried so every record of the invocation names it. */
  triggerId?: string | undefined;
}

/**
 * The sending side of async invocations, shared by the gateway (`kumo-invocation-type: async`) and
 * the scheduler (triggers): one JetStream message per invocation on the version's subject of the
 * work-queue stream, bodies larger than a NATS message parked in the payload object store. The
 * promise resolves once the stream stored the message (or recognised it as a duplicate).
 */
export class AsyncInvocations {
  readonly #options: AsyncInvocationsOptions;
  #publisher: StreamPublisher | undefined;
  #payloads: Promise<ObjectStore> | undefined;

  constructor(options: AsyncInvocationsOptions) {
    this.#options = options;
  }

  /** Creates the invocation streams if needed; call once before publishing. */
  async start(): Promise<void> {
    await ensureInvocationStreams(await jetstreamManager(this.#options.nc), {
      namespace: this.#options.namespace,
      replicas: streamReplicas(this.#options.nc),
    });
    this.#publisher = new StreamPublisher(this.#options.nc);
  }

  /** Fails publishes still waiting for the stream (the owner is stopping). */
  stop(): void {
    this.#publisher?.stop();
  }

  async publish(
    target: InvocationTarget,
    request: InvocationRequest,
    options: PublishAsyncOptions,
  ): Promise<StreamAck> {
    const publisher = this.#publisher;
    if (!publisher) throw new Error("async invocations are not started");
    const body = request.body && request.body.byteLength > 0 ? request.body : null;
    const meta = invokeRequestMeta(target, request, body?.byteLength ?? 0);
    meta.queuedAt = options.queuedAt;
    meta.attemptBase = 0;
    if (options.triggerId !== undefined) meta.triggerId = options.triggerId;
    const subject = subjects.asyncInvoke(target.versionId, this.#options.namespace);
    const tracer = tracerFor(request.traceparent);
    if (!tracer) return this.#publish(publisher, subject, meta, body, request.invocationId, options.msgId);
    // The message carries the publish span's context: every attempt, retry and redrive of the
    // invocation continues from it (a trigger firing, which has no caller, starts the trace here).
    const span = tracer.startSpan(
      "publish kumo.async",
      { kind: SpanKind.PRODUCER, attributes: invocationAttributes(target) },
      contextOf(request.traceparent),
    );
    span.setAttributes({
      [ATTR.messagingSystem]: "nats",
      [ATTR.messagingOperation]: "send",
      [ATTR.messagingDestination]: subject,
      [ATTR.messagingMessageId]: options.msgId,
      [ATTR.faasInvocationId]: request.invocationId,
      [ATTR.faasTrigger]: faasTriggerOf(request.trigger),
      [ATTR.triggerKind]: request.trigger,
    });
    if (options.triggerId !== undefined) span.setAttribute(ATTR.triggerId, options.triggerId);
    meta.headers = withTraceparent(meta.headers, span);
    // A trace started here is the invocation's: the caller's "queued" record names it too.
    request.traceparent ??= meta.headers.traceparent;
    try {
      const ack = await this.#publish(publisher, subject, meta, body, request.invocationId, options.msgId);
      endSpan(span);
      return ack;
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }

  async #publish(
    publisher: StreamPublisher,
    subject: string,
    meta: InvokeRequestMeta,
    body: Uint8Array | null,
    invocationId: string,
    msgId: string,
  ): Promise<StreamAck> {
    let inline = body;
    if (body && body.byteLength > maxFramePayload(this.#options.nc.info?.max_payload)) {
      // A JetStream message is bounded by max_payload: large bodies wait in the object store.
      await (await this.#payloadStore()).putBlob({ name: invocationId }, body);
      meta.payloadObject = invocationId;
      inline = null;
    }
    return publisher.publish(subject, encodeFrame(meta, inline ?? undefined), msgId);
  }

  #payloadStore(): Promise<ObjectStore> {
    this.#payloads ??= new Objm(this.#options.nc).create(streams.payloads(this.#options.namespace), {
      replicas: streamReplicas(this.#options.nc),
    });
    return this.#payloads;
  }
}
