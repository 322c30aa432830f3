import {
  type ConsumerMessages,
  decodeFrame,
  encodeFrame,
  ensureInvocationConsumer,
  ensureInvocationStreams,
  headers as H,
  type InvokeRequestMeta,
  type JetStreamClient,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type NatsConnection,
  natsHeaders,
  type ObjectStore,
  Objm,
  PULL_EXPIRES_MS,
  streamReplicas,
  streams,
  subjects,
} from "@kumo/bus";
import type { CapacityProvider, ErrorBody, InvocationResult } from "@kumo/core";
import { errorResult, failureOf, KumoError } from "@kumo/core";
import { invocationLogRows, type NewInvocation, type Recorder, recordSeq } from "@kumo/db";
import {
  ATTR,
  childOf,
  contextOf,
  endSpan,
  faasTriggerOf,
  invocationAttributes,
  type Span,
  SpanKind,
  spanContextOf,
  traceIdOf,
  traceparentOf,
  tracerFor,
} from "@kumo/telemetry";
import type { DestinationQueue } from "./destination-queue.ts";
import { type DestinationKind, destinationPayload } from "./destination-sender.ts";
import { errorBody } from "./fleet-provider.ts";
import type { AsyncOutcomeKind, AutoscalerMetrics } from "./metrics.ts";
import { isUnknownVersion, type VersionCatalog, type VersionSpec } from "./version-catalog.ts";

export interface AsyncWorkerOptions {
  nc: NatsConnection;
  namespace: string;
  /** What runs the versions, one per kind of runtime (the container pools, the isolate hosts). */
  providers: readonly CapacityProvider[];
  catalog: VersionCatalog;
  recorder: Recorder;
  /** Per-invocation cap of stored log bytes (KUMO_LOG_CAP_BYTES) for lines results carry (edge). */
  logCapBytes?: number;
  ackWaitMs: number;
  retryBaseMs: number;
  /** Async invocations this node runs at once. */
  concurrency: number;
  /** Delivers final outcomes to the functions' destination webhooks (config `destinations`). */
  destinations?: Pick<DestinationQueue, "enqueue">;
  /** Counts settled invocations (kumo_async_invocations_total) and their run time. */
  metrics?: Pick<AutoscalerMetrics, "asyncOutcomes" | "asyncSeconds">;
  onError(error: unknown): void;
}

/** Stored results are capped; the invocation record says so when one was cut. */
export const MAX_STORED_RESULT_BYTES = 1024 * 1024;
/** A run that takes longer than this is recorded as "running" (short runs go queued -> finished). */
const RUNNING_RECORD_AFTER_MS = 200;

/** How long a node without a share of a version's concurrency holds its message before requeueing it. */
const NO_SHARE_REQUEUE_MS = 200;

/** An invocation being run, watched by the worker's one sweep timer (no timers per message). */
interface Running {
  msg: JsMsg;
  record: NewInvocation;
  attempt: number;
  since: number;
  lastWorking: number;
  recorded: boolean;
}

/** A run's result with its body read whole, and whether it counts as a failure. */
interface Outcome {
  result: InvocationResult;
  body: Buffer;
  error: ErrorBody | undefined;
  durationMs: number;
}

/**
 * Async invocations on a node: pulls from the shared durable consumer of the work-queue stream,
 * runs each on the version's pool, and settles it: ack after the final record is in the database
 * (so a node killed at any point leaves the message to be redelivered, never a lost invocation);
 * a failure is retried with exponential backoff (`nak(delay)`) up to the function's maxRetries,
 * then moved to the dead-letter stream.
 */
export class AsyncWorker {
  readonly #options: AsyncWorkerOptions;
  #js: JetStreamClient | undefined;
  #messages: ConsumerMessages | undefined;
  #payloads: Promise<ObjectStore> | undefined;
  #inFlight = 0;
  #slots: (() => void)[] = [];
  #loop: Promise<void> | undefined;
  #stopping = false;
  readonly #running = new Set<Running>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: AsyncWorkerOptions) {
    this.#options = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async start(): Promise<void> {
    const { nc, namespace } = this.#options;
    const jsm = await jetstreamManager(nc);
    await ensureInvocationStreams(jsm, { namespace, replicas: streamReplicas(nc) });
    await ensureInvocationConsumer(jsm, { namespace, ackWaitMs: this.#options.ackWaitMs });
    this.#js = jetstream(nc);
    const consumer = await this.#js.consumers.get(streams.invocations(namespace), streams.invocationConsumer);
    this.#messages = await consumer.consume({
      max_messages: Math.min(this.#options.concurrency, 512),
      expires: PULL_EXPIRES_MS,
    });
    this.#sweeper = setInterval(() => this.#sweep(), 100);
    this.#sweeper.unref();
    const messages = this.#messages;
    this.#loop = (async () => {
      for await (const msg of messages) {
        if (this.#stopping) break;
        if (this.#inFlight >= this.#options.concurrency) await new Promise<void>((r) => this.#slots.push(r));
        this.#inFlight++;
        void this.#process(msg)
          .catch((error: unknown) => {
            this.#options.onError(error);
            msg.nak(this.#options.retryBaseMs);
          })
          .finally(() => {
            this.#inFlight--;
            this.#slots.shift()?.();
          });
      }
    })();
  }

  /** Stops pulling; running invocations finish (bounded), unstarted ones go back to the stream. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    await this.#messages?.close().catch(() => {});
    const until = Date.now() + graceMs;
    while (this.#inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await this.#loop?.catch(() => {});
    clearInterval(this.#sweeper);
  }

  /**
   * Long runs: tells the stream the message is still being worked on (ack wait / 3) so it is not
   * redelivered, and records "running" once a run passes RUNNING_RECORD_AFTER_MS.
   */
  #sweep(): void {
    const now = Date.now();
    const every = Math.max(500, this.#options.ackWaitMs / 3);
    for (const run of this.#running) {
      if (!run.recorded && now - run.since >= RUNNING_RECORD_AFTER_MS) {
        run.recorded = true;
        this.#options.recorder.record(
          Object.assign({}, run.record, { record_seq: recordSeq(run.attempt, "running") }),
        );
      }
      if (now - run.lastWorking >= every) {
        run.lastWorking = now;
        run.msg.working();
      }
    }
  }

  #payloadStore(): Promise<ObjectStore> {
    this.#payloads ??= new Objm(this.#options.nc).create(streams.payloads(this.#options.namespace), {
      replicas: streamReplicas(this.#options.nc),
    });
    return this.#payloads;
  }

  async #process(msg: JsMsg): Promise<void> {
    const { meta, payload } = decodeFrame<InvokeRequestMeta>(msg.data);
    const attempt = (meta.attemptBase ?? 0) + msg.info.deliveryCount;
    const span = this.#attemptSpan(meta, attempt);
    if (!span) {
      await this.#settle(msg, meta, payload, attempt, undefined);
      return;
    }
    try {
      const failure = await this.#settle(msg, meta, payload, attempt, span);
      endSpan(span, failure);
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
  }

  /**
   * One attempt's span, when tracing is on. Every attempt (first, retries, redrives) is a child of
   * the span that queued the invocation, whose context the message carries, and links to it as
   * its creation context, as the messaging conventions ask of consumers: a trace shows each
   * attempt under the same publish, and a backend that follows links finds the original from any.
   * The first attempt also shows its wait in the queue.
   */
  #attemptSpan(meta: InvokeRequestMeta, attempt: number): Span | undefined {
    const tracer = tracerFor(meta.headers.traceparent);
    if (!tracer) return undefined;
    const origin = spanContextOf(meta.headers.traceparent);
    const span = tracer.startSpan(
      `invoke attempt ${attempt}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: invocationAttributes(meta),
        links: origin ? [{ context: origin, attributes: { "kumo.link": "queued by" } }] : [],
      },
      contextOf(meta.headers.traceparent),
    );
    span.setAttributes({
      [ATTR.faasInvocationId]: meta.id,
      [ATTR.faasTrigger]: faasTriggerOf(meta.trigger),
      [ATTR.attempt]: attempt,
      [ATTR.messagingSystem]: "nats",
      [ATTR.messagingOperation]: "process",
    });
    if (meta.triggerId !== undefined) span.setAttribute(ATTR.triggerId, meta.triggerId);
    if (attempt === 1 && meta.queuedAt !== undefined) {
      tracer
        .startSpan(
          "queue wait",
          {
            startTime: meta.queuedAt,
            attributes: { [ATTR.queueMs]: Math.max(0, Date.now() - meta.queuedAt) },
          },
          childOf(span),
        )
        .end();
    }
    return span;
  }

  /** Runs one delivery and settles its message; the error it ended with, for its span. */
  async #settle(
    msg: JsMsg,
    meta: InvokeRequestMeta,
    payload: Uint8Array,
    attempt: number,
    span: Span | undefined,
  ): Promise<ErrorBody | undefined> {
    const started = Date.now();
    const base: NewInvocation = {
      id: meta.id,
      tenant_id: meta.tenantId,
      function_id: meta.functionId,
      version_id: meta.versionId,
      version: meta.version,
      trigger: meta.trigger,
      trigger_id: meta.triggerId ?? null,
      status: "running",
      attempts: attempt,
      trace_id: traceIdOf(meta.headers.traceparent),
      started_at: new Date(meta.queuedAt ?? started),
    };
    let spec: VersionSpec;
    try {
      spec = await this.#options.catalog.get(meta);
    } catch (error) {
      const failure = errorBody(error);
      // A version no longer in the database (deleted while queued) will not come back: dead letter.
      if (isUnknownVersion(failure) || failure.code === "FN_006") {
        await this.#deadLetter(msg, meta, spec0(meta), base, attempt, failure, undefined);
        return failure;
      }
      throw error;
    }
    span?.setAttribute(ATTR.faasName, spec.functionName);
    const provider = this.#options.providers.find((p) => p.supports(spec.runtime));
    if (provider?.holdsCapacity?.(spec) === false) {
      // This node holds none of the version's concurrency limit (smaller than the number of nodes):
      // back to the queue for a node that does, after a pause so the message does not spin.
      await new Promise((r) => setTimeout(r, NO_SHARE_REQUEUE_MS));
      await this.#requeue(msg, meta, payload, attempt);
      span?.setAttribute("kumo.requeued", true);
      return undefined;
    }
    const running: Running = {
      msg,
      record: base,
      attempt,
      since: started,
      lastWorking: started,
      recorded: false,
    };
    this.#running.add(running);
    let outcome: Outcome;
    try {
      outcome = await this.#run(provider, spec, meta, payload, started, span);
    } finally {
      this.#running.delete(running);
    }
    span?.setAttribute(ATTR.faasColdstart, outcome.result.coldStart !== "warm");
    if (outcome.error?.code === "FN_007") {
      await this.#requeue(msg, meta, payload, attempt);
      span?.setAttribute("kumo.requeued", true);
      return outcome.error;
    }
    // Records are built with Object.assign: `{ ...base, more }` takes V8's slow path on Node 20
    // (~0.6 µs a property), and these are written for every invocation.
    const finished: NewInvocation = Object.assign({}, base, {
      status_code: outcome.result.status,
      duration_ms: outcome.durationMs,
      cold_start: outcome.result.coldStart,
      queue_ms: Math.max(0, started - (meta.queuedAt ?? started)) + outcome.result.queueMs,
      response_bytes: outcome.body.byteLength,
      finished_at: new Date(),
      error_code: outcome.error?.code ?? null,
      error_message: outcome.error?.message ?? null,
      cpu_ms: outcome.result.usage?.cpuMs ?? null,
      memory_bytes: outcome.result.usage?.memoryBytes ?? null,
    });
    if (!outcome.error) {
      this.#options.recorder.record(
        Object.assign({}, finished, {
          status: "succeeded" as const,
          record_seq: recordSeq(attempt, "finished"),
          result: outcome.body.subarray(0, MAX_STORED_RESULT_BYTES),
          result_headers: JSON.stringify(outcome.result.headers),
          dead_letter_seq: null,
        }),
      );
      await this.#options.recorder.flush();
      await this.#notify("onSuccess", spec, meta, attempt, undefined, outcome);
      msg.ack();
      this.#count(spec.functionId, "succeeded", "", outcome.durationMs);
      if (meta.payloadObject) await (await this.#payloadStore()).delete(meta.payloadObject).catch(() => {});
      return undefined;
    }
    if (attempt <= spec.config.maxRetries) {
      this.#options.recorder.record(
        Object.assign({}, finished, {
          status: "queued" as const,
          record_seq: recordSeq(attempt + 1, "queued"),
        }),
      );
      await this.#options.recorder.flush();
      msg.nak(Math.min(300_000, this.#options.retryBaseMs * 2 ** (attempt - 1)));
      this.#count(spec.functionId, "retried", outcome.error.code, outcome.durationMs);
      span?.setAttribute("kumo.retried", true);
      return outcome.error;
    }
    const error = outcome.error;
    span?.setAttribute("kumo.dead_lettered", true);
    await this.#deadLetter(msg, meta, spec, finished, attempt, error, outcome, () =>
      this.#notify("onFailure", spec, meta, attempt, error, outcome),
    );
    return error;
  }

  /**
   * The version's pool on this node stayed full for its whole queue wait: the invocation did not
   * run, so it must not use up a retry. A copy goes to the back of the work queue carrying this
   * attempt's number (its first delivery counts as this attempt again), then this delivery is
   * acknowledged. The queue wait already spaced the cycle out; a node that dies in between leaves
   * at worst both copies, and the invocation record dedupes the runs.
   */
  async #requeue(msg: JsMsg, meta: InvokeRequestMeta, payload: Uint8Array, attempt: number): Promise<void> {
    const js = this.#js;
    if (!js) throw new Error("async worker not started");
    this.#count(meta.functionId, "requeued", "FN_007");
    const copy: InvokeRequestMeta = { ...meta, attemptBase: attempt - 1 };
    await js.publish(
      subjects.asyncInvoke(meta.versionId, this.#options.namespace),
      encodeFrame(copy, payload.byteLength > 0 ? payload : undefined),
      { msgID: `${meta.id}:requeue:${msg.seq}` },
    );
    msg.ack();
  }

  /**
   * Queues the delivery to the function's destination for this outcome, if it has one, before the
   * invocation's message is acknowledged: a node that dies after the ack has queued it already.
   */
  async #notify(
    kind: DestinationKind,
    spec: VersionSpec,
    meta: InvokeRequestMeta,
    attempt: number,
    error: ErrorBody | undefined,
    outcome: Outcome,
  ): Promise<void> {
    const url = spec.config.destinations?.[kind];
    const queue = this.#options.destinations;
    if (!url || !queue) return;
    try {
      await queue.enqueue({
        kind,
        url,
        payload: destinationPayload({
          invocationId: meta.id,
          functionName: spec.functionName,
          version: spec.version,
          attempts: attempt,
          error,
          response: { status: outcome.result.status, headers: outcome.result.headers, body: outcome.body },
          ...(meta.trigger === "step" ? { step: { logs: outcome.result.logs } } : {}),
        }),
        owner: { tenantId: spec.tenantId, functionId: spec.functionId },
      });
    } catch (failure) {
      // The invocation's outcome stands (it is recorded); only this notification is lost.
      this.#options.onError(new Error(`could not queue the ${kind} destination of ${meta.id}: ${failure}`));
    }
  }

  async #deadLetter(
    msg: JsMsg,
    meta: InvokeRequestMeta,
    spec: Pick<VersionSpec, "tenantId" | "functionId">,
    record: NewInvocation,
    attempt: number,
    error: ErrorBody,
    outcome: Outcome | undefined,
    beforeAck?: () => Promise<void>,
  ): Promise<void> {
    const js = this.#js;
    if (!js) throw new Error("async worker not started");
    const h = natsHeaders();
    h.set(H.error, error.code);
    h.set(H.invocationId, meta.id);
    h.set("kumo-attempts", String(attempt));
    const ack = await js.publish(
      subjects.deadLetter(spec.tenantId, spec.functionId, this.#options.namespace),
      msg.data,
      {
        headers: h,
        msgID: `${meta.id}:${attempt}`,
      },
    );
    this.#options.recorder.record({
      ...record,
      status: "failed",
      error_code: error.code,
      error_message: error.message,
      finished_at: new Date(),
      record_seq: recordSeq(attempt, "finished"),
      dead_letter_seq: ack.seq,
      ...(outcome
        ? {
            result: outcome.body.subarray(0, MAX_STORED_RESULT_BYTES),
            result_headers: JSON.stringify(outcome.result.headers),
          }
        : {}),
    });
    await this.#options.recorder.flush();
    await beforeAck?.();
    msg.ack();
    this.#count(spec.functionId, "dead_lettered", error.code, outcome?.durationMs);
  }

  #count(functionId: string, outcome: AsyncOutcomeKind, code: string, durationMs?: number): void {
    const metrics = this.#options.metrics;
    if (!metrics) return;
    metrics.asyncOutcomes.inc({ function_id: functionId, outcome, code });
    if (durationMs !== undefined)
      metrics.asyncSeconds.observe({ function_id: functionId }, durationMs / 1000);
  }

  /** Runs the invocation on its provider; its logs (an isolate's) are recorded with it. */
  async #run(
    provider: CapacityProvider | undefined,
    spec: VersionSpec,
    meta: InvokeRequestMeta,
    payload: Uint8Array,
    started: number,
    span: Span | undefined,
  ): Promise<Outcome> {
    let request: Uint8Array | null = meta.bodyBytes > 0 ? payload : null;
    if (meta.payloadObject) request = await (await this.#payloadStore()).getBlob(meta.payloadObject);
    let result: InvocationResult;
    try {
      if (!provider) throw new KumoError("FN_008", `this node runs no "${spec.runtime}" functions`);
      // With tracing on, the attempt's span is the parent of what the provider does.
      const traceparent = span ? traceparentOf(span) : meta.headers.traceparent;
      result = await provider.invoke(spec, {
        invocationId: meta.id,
        trigger: meta.trigger,
        method: meta.method,
        url: meta.url,
        headers: span ? Object.assign({}, meta.headers, { traceparent }) : meta.headers,
        body: request,
        deadline: Date.now() + spec.config.timeoutMs,
        ...(traceparent ? { traceparent } : {}),
      });
    } catch (error) {
      result = errorResult(errorBody(error));
    }
    let body: Buffer;
    if (result.body instanceof Uint8Array)
      body = Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength);
    else {
      const chunks: Uint8Array[] = [];
      for await (const chunk of result.body) chunks.push(chunk);
      body = Buffer.concat(chunks);
    }
    if (result.logs.length > 0)
      this.#options.recorder.record(
        null,
        invocationLogRows(spec, meta.id, result.logs, this.#options.logCapBytes),
      );
    return { result, body, error: failureOf(result, body), durationMs: Date.now() - started };
  }
}

function spec0(meta: InvokeRequestMeta): Pick<VersionSpec, "tenantId" | "functionId"> {
  return { tenantId: meta.tenantId, functionId: meta.functionId };
}
