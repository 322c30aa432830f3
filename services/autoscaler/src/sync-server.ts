import {
  createInbox,
  decodeFrame,
  encodeFrame,
  type InvokeReplyMeta,
  type InvokeRequestMeta,
  type LinkMessage,
  type Msg,
  type NatsConnection,
  natsHeaders,
  PublishBatcher,
  type Subscription,
  subjects,
} from "@kumo/bus";
import { Cancellation, type ErrorBody } from "@kumo/core";
import {
  ATTR,
  contextOf,
  endSpan,
  faasTriggerOf,
  invocationAttributes,
  type Span,
  SpanKind,
  traceparentOf,
  tracerFor,
} from "@kumo/telemetry";
import { Fleet } from "./fleet.ts";
import { errorBody, type FleetProvider, isOpenInvocation } from "./fleet-provider.ts";
import type { NodeRoster } from "./node-roster.ts";
import { ShimClient } from "./shim-client.ts";
import type { VersionCatalog, VersionSpec } from "./version-catalog.ts";

export interface SyncServerOptions {
  nodeId: string;
  /** The live nodes: a version whose concurrency share on this node is 0 is served by a holder. */
  roster?: NodeRoster;
  nc: NatsConnection;
  namespace: string;
  /**
   * Runs the invocations: NATS sync requests are the far half of the gateway's container provider
   * (edge versions never come this way), and their responses are forwarded as the shim writes them.
   */
  provider: FleetProvider;
  catalog: VersionCatalog;
  /** Body bytes per NATS message. */
  framePayload: number;
  onError(error: unknown): void;
}

/** NATS header on an invocation one node handed to another (it is never handed on again). */
const FORWARDED = "Kumo-Forwarded";
const BEAT_MS = 1000;
/** How long a chunked response may take to end after a chunk before it is forwarded as a stream. */
const STREAM_DECIDE_MS = 2;

/** The promise's value, or undefined when it takes longer than `ms`. */
function raceDelay<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A request as it arrives, over NATS or a gateway's direct link (which carries no headers). */
type Incoming = Pick<Msg, "data" | "headers"> & { reply?: string | undefined };

/** Sends a frame to a subject: through NATS, or back over the direct link the request came by. */
type Out = (subject: string, data: Uint8Array) => void;

/** A sync invocation this node is running: where its frames go, and how to stop it. */
interface InFlight {
  reply: string;
  out: Out;
  lastSent: number;
  abort: Cancellation;
  /** Set once the request's frame is decoded; a broadcast cancel names the invocation by it. */
  invocationId?: string;
}

/**
 * The sync invocation plane on a node: a queue subscription to every version's invoke subject
 * (all nodes in one queue group share the load), large request bodies pulled in chunks from the
 * gateway, responses sent back as frames as the function produces them, heartbeats while an
 * invocation runs (a gateway that stops hearing them knows this node died), and cancels.
 */
export class SyncServer {
  readonly #options: SyncServerOptions;
  readonly #inFlight = new Map<number, InFlight>();
  readonly #cancelPrefix = createInbox();
  readonly #out: PublishBatcher;
  readonly #nats: Out;
  #subs: Subscription[] = [];
  #timer: NodeJS.Timeout | undefined;
  #next = 0;
  #rotate = 0;
  #stopping = false;
  #overLink = 0;

  constructor(options: SyncServerOptions) {
    this.#options = options;
    this.#out = new PublishBatcher(options.nc);
    this.#nats = (subject, data) => this.#out.publish(subject, data);
  }

  start(): void {
    const { nc, namespace } = this.#options;
    this.#subs.push(
      nc.subscribe(subjects.invokeAll(namespace), {
        queue: subjects.invokeQueue,
        callback: (error, msg) => {
          if (!error) void this.#handle(msg);
        },
      }),
      nc.subscribe(subjects.invokeOnNode(this.#options.nodeId, namespace), {
        callback: (error, msg) => {
          if (!error) void this.#handle(msg);
        },
      }),
      nc.subscribe(subjects.invokeCancel(namespace), {
        callback: (error, msg) => {
          if (error) return;
          const id = msg.string();
          for (const entry of this.#inFlight.values()) if (entry.invocationId === id) entry.abort.abort();
        },
      }),
      nc.subscribe(`${this.#cancelPrefix}.*`, {
        callback: (error, msg) => {
          if (error) return;
          const token = Number(msg.subject.slice(this.#cancelPrefix.length + 1));
          this.#inFlight.get(token)?.abort.abort();
        },
      }),
    );
    this.#timer = setInterval(() => this.#beat(), BEAT_MS / 2);
    this.#timer.unref();
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Requests that came over a gateway's direct link since start. */
  get overLink(): number {
    return this.#overLink;
  }

  /** Stops taking new invocations and waits (bounded) for the running ones. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    for (const sub of this.#subs) sub.unsubscribe();
    this.#subs = [];
    const until = Date.now() + graceMs;
    while (this.#inFlight.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (this.#timer) clearInterval(this.#timer);
    this.#out.flush();
  }

  /** A request that came over a gateway's direct link; its frames go back the same way. */
  handleLink(message: LinkMessage, reply: Out): void {
    if (!this.#stopping) {
      this.#overLink++;
      void this.#handle(message, reply);
      return;
    }
    // NATS would route it to another node, or answer "no responders": the gateway gets the same.
    if (message.reply)
      reply(
        message.reply,
        encodeFrame({
          k: "error",
          error: { code: "FN_008", message: "the autoscaler node is stopping; retry the request" },
          coldStart: "warm",
          queueMs: 0,
        } satisfies InvokeReplyMeta),
      );
  }

  #send(token: number, reply: string, meta: InvokeReplyMeta, payload?: Uint8Array): void {
    const entry = this.#inFlight.get(token);
    if (entry) entry.lastSent = Date.now();
    (entry?.out ?? this.#nats)(reply, encodeFrame(meta, payload));
  }

  #beat(): void {
    const now = Date.now();
    for (const [token, entry] of this.#inFlight) {
      if (now - entry.lastSent >= BEAT_MS) {
        entry.lastSent = now;
        entry.out(entry.reply, encodeFrame({ k: "beat", cancel: `${this.#cancelPrefix}.${token}` }));
      }
    }
  }

  /**
   * A version's maxConcurrency is split between the live nodes; when it is smaller than the number
   * of nodes, some nodes hold none of it. Such a node hands the request to a holder (the same
   * message, with the gateway's reply subject, so the holder answers the gateway directly).
   */
  #handOver(msg: Incoming, spec: VersionSpec): boolean {
    const roster = this.#options.roster;
    if (!roster || msg.headers?.get(FORWARDED) || this.#options.provider.holdsCapacity(spec)) return false;
    const holders = roster.holders(spec.versionId, Fleet.concurrencyLimit(spec));
    const target = holders[this.#rotate++ % Math.max(1, holders.length)];
    if (!target || target === this.#options.nodeId) return false;
    const h = natsHeaders();
    h.set(FORWARDED, this.#options.nodeId);
    this.#out.publish(subjects.invokeOnNode(target, this.#options.namespace), msg.data, {
      headers: h,
      ...(msg.reply ? { reply: msg.reply } : {}),
    });
    return true;
  }

  async #handle(msg: Incoming, out: Out = this.#nats): Promise<void> {
    const reply = msg.reply;
    if (!reply) return;
    const token = ++this.#next;
    const abort = new Cancellation();
    const entry: InFlight = { reply, out, lastSent: Date.now(), abort };
    this.#inFlight.set(token, entry);
    const cancel = `${this.#cancelPrefix}.${token}`;
    let span: Span | undefined;
    let failure: ErrorBody | undefined;
    try {
      const { meta, payload } = decodeFrame<InvokeRequestMeta>(msg.data);
      entry.invocationId = meta.id;
      span = this.#span(meta);
      const spec = await this.#options.catalog.get(meta);
      span?.updateName(`invoke ${spec.functionName}`);
      span?.setAttribute(ATTR.faasName, spec.functionName);
      if (this.#handOver(msg, spec)) {
        span?.setAttribute("kumo.handed_over", true);
        return;
      }
      const body = meta.pull ? this.#pull(meta.pull, payload) : meta.bodyBytes > 0 ? payload : null;
      const headers = { ...meta.headers };
      if (meta.bodyBytes > 0) headers["content-length"] = String(meta.bodyBytes);
      // The pool acquire and shim call below are this span's children (they read it from the headers).
      if (span) headers.traceparent = traceparentOf(span);
      const run = await this.#options.provider.open(
        spec,
        { method: meta.method, url: meta.url, headers, body, deadline: meta.deadline },
        abort,
      );
      span?.setAttribute(ATTR.faasColdstart, run.coldStart !== "warm");
      if (!isOpenInvocation(run)) {
        failure = run.error;
        this.#send(token, reply, {
          k: "error",
          error: run.error,
          coldStart: run.coldStart,
          queueMs: run.queueMs,
        });
        return;
      }
      const res = run.body;
      span?.setAttribute(ATTR.httpStatus, run.status);
      const head: InvokeReplyMeta = {
        k: "head",
        status: run.status,
        headers: run.headers,
        coldStart: run.coldStart,
        queueMs: run.queueMs,
        end: false,
        cancel,
      };
      if (run.usage) head.usage = run.usage;
      const length = res.header("content-length");
      const max = this.#options.framePayload;
      try {
        // Small bodies and the shim's error envelopes (so the gateway can record their code) go in one frame.
        if (length !== undefined ? Number(length) <= max : res.header("kumo-error") !== undefined) {
          // The common case, a small body of known length: read by listeners, no async iterator.
          head.end = true;
          this.#send(token, reply, head, await ShimClient.read(res));
          return;
        }
        const body = (res as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
        const early: Buffer[] = [];
        let earlyBytes = 0;
        let ended = false;
        let pendingRead: Promise<IteratorResult<Buffer>> | undefined;
        let whole = false;
        if (length === undefined) {
          // A body without a length (the JS shims write Response bodies chunked, the last chunk and
          // the end in separate writes) is usually complete a moment after its first chunk: then it
          // goes whole too, one frame instead of a stream. A real stream pays at most
          // STREAM_DECIDE_MS more before its first chunk is forwarded.
          const first = await body.next();
          if (first.done) ended = true;
          else {
            early.push(first.value);
            earlyBytes += first.value.byteLength;
            while (!ended && earlyBytes <= max) {
              if (res.complete) {
                // The rest of the body is already buffered: reading it does not wait.
                for (let r = await body.next(); !r.done; r = await body.next()) {
                  early.push(r.value);
                  earlyBytes += r.value.byteLength;
                }
                ended = true;
                break;
              }
              const next = body.next();
              const r = await raceDelay(next, STREAM_DECIDE_MS);
              if (r === undefined) {
                pendingRead = next;
                break;
              }
              if (r.done) ended = true;
              else {
                early.push(r.value);
                earlyBytes += r.value.byteLength;
              }
            }
          }
          whole = ended && earlyBytes <= max;
        }
        if (whole) {
          head.end = true;
          this.#send(token, reply, head, early.length === 1 ? early[0] : Buffer.concat(early));
        } else {
          this.#send(token, reply, head);
          // Known length: fill frames; unknown (chunked, SSE): forward each chunk as it is produced.
          const coalesce = length !== undefined;
          let pending: Buffer[] = [];
          let pendingBytes = 0;
          const forward = (buf: Buffer) => {
            if (coalesce && pendingBytes + buf.byteLength <= max) {
              pending.push(buf);
              pendingBytes += buf.byteLength;
              return;
            }
            if (pendingBytes > 0) this.#send(token, reply, { k: "data", end: false }, Buffer.concat(pending));
            pending = [];
            pendingBytes = 0;
            for (let at = 0; at < buf.byteLength; at += max) {
              const piece = buf.subarray(at, at + max);
              if (coalesce && piece.byteLength < max) {
                pending.push(piece);
                pendingBytes = piece.byteLength;
              } else this.#send(token, reply, { k: "data", end: false }, piece);
            }
          };
          for (const buf of early) forward(buf);
          if (!ended) {
            for (let r = await (pendingRead ?? body.next()); !r.done; r = await body.next()) forward(r.value);
          }
          this.#send(
            token,
            reply,
            { k: "data", end: true },
            pendingBytes > 0 ? Buffer.concat(pending) : undefined,
          );
        }
      } catch (error) {
        failure = await run.failure(error);
        this.#send(token, reply, {
          k: "error",
          error: failure,
          coldStart: run.coldStart,
          queueMs: run.queueMs,
        });
      } finally {
        run.finish();
      }
    } catch (error) {
      failure = errorBody(error);
      this.#send(token, reply, { k: "error", error: failure, coldStart: "warm", queueMs: 0 });
    } finally {
      this.#inFlight.delete(token);
      if (span) endSpan(span, failure);
    }
  }

  /** The node's span of a sync invocation, when tracing is on: a child of the gateway's NATS request. */
  #span(meta: InvokeRequestMeta): Span | undefined {
    const tracer = tracerFor(meta.headers.traceparent);
    if (!tracer) return undefined;
    const span = tracer.startSpan(
      "invoke",
      { kind: SpanKind.SERVER, attributes: invocationAttributes(meta) },
      contextOf(meta.headers.traceparent),
    );
    span.setAttributes({
      [ATTR.faasInvocationId]: meta.id,
      [ATTR.faasTrigger]: faasTriggerOf(meta.trigger),
      [ATTR.nodeId]: this.#options.nodeId,
    });
    return span;
  }

  /** The request body, chunk by chunk: the first came with the request, the rest are requested in turn. */
  async *#pull(pull: { subject: string; chunks: number }, first: Uint8Array): AsyncIterable<Uint8Array> {
    const { nc } = this.#options;
    const fetch = (i: number) => nc.request(pull.subject, String(i), { timeout: 10_000 });
    let next = pull.chunks > 1 ? fetch(1) : undefined;
    yield first;
    for (let i = 1; i < pull.chunks; i++) {
      const msg = await (next as Promise<Msg>);
      next = i + 1 < pull.chunks ? fetch(i + 1) : undefined;
      yield msg.data;
    }
  }
}
