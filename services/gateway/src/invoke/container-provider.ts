import {
  createInbox,
  decodeFrame,
  encodeFrame,
  type InvokeReplyMeta,
  type InvokeRequestMeta,
  invokeRequestMeta,
  type LinkClient,
  type Msg,
  maxFramePayload,
  type NatsConnection,
  NodeLinks,
  PublishBatcher,
  type Subscription,
  subjects,
} from "@kumo/bus";
import type {
  CallerSignal,
  CapacityProvider,
  DeployedVersion,
  ErrorBody,
  InvocationRequest,
  InvocationResult,
  Runtime,
} from "@kumo/core";
import { errorResult, fromShimResponse, isEdgeRuntime } from "@kumo/core";
import {
  ATTR,
  contextOf,
  endSpan,
  invocationAttributes,
  type Span,
  SpanKind,
  tracerFor,
  withTraceparent,
} from "@kumo/telemetry";

const ENCODER = new TextEncoder();

export interface ContainerProviderOptions {
  nc: NatsConnection;
  /** Bus namespace shared with the autoscalers (see @kumo/bus streams). */
  namespace?: string;
  /** No frame from the node for this long while an invocation runs: the node is gone (FN_008). */
  silenceMs?: number;
  /**
   * Use a node's direct link (a unix socket) instead of nats-server while it is the only node
   * (default true; see NodeLinks in @kumo/bus). False: every call goes through NATS.
   */
  directLinks?: boolean;
}

/** A reply as it arrives: a NATS message, or a frame the node sent back over the direct link. */
type Reply = Pick<Msg, "subject" | "data"> & Partial<Pick<Msg, "reply" | "headers" | "respond">>;

interface Pending {
  target: DeployedVersion;
  deadline: number;
  lastHeard: number;
  body: Uint8Array | null;
  chunk: number;
  cancel?: string;
  /** The direct link the request went over (its replies come back only that way). */
  link?: LinkClient;
  onFrame(meta: InvokeReplyMeta, payload: Uint8Array): void;
  fail(error: ErrorBody): void;
}

/**
 * Container functions, seen from the gateway: each invocation is a NATS request to the version's
 * subject, answered by whichever autoscaler node of the queue group takes it. One wildcard inbox
 * subscription serves every invocation (replies and body-chunk pulls), so a request costs no
 * subscribe round trip. Bodies and responses larger than one NATS message travel as frames.
 */
export class ContainerProvider implements CapacityProvider {
  readonly name = "container";
  readonly #nc: NatsConnection;
  readonly #out: PublishBatcher;
  readonly #namespace: string;
  readonly #silenceMs: number;
  readonly #prefix = createInbox();
  readonly #pending = new Map<string, Pending>();
  readonly #sub: Subscription;
  readonly #timer: NodeJS.Timeout;
  readonly #links: NodeLinks | undefined;
  #next = 0;

  constructor(options: ContainerProviderOptions) {
    this.#nc = options.nc;
    this.#out = new PublishBatcher(options.nc);
    this.#namespace = options.namespace ?? "";
    this.#silenceMs = options.silenceMs ?? 3500;
    this.#sub = this.#nc.subscribe(`${this.#prefix}.>`, {
      callback: (error, msg) => {
        if (!error) this.#route(msg);
      },
    });
    this.#timer = setInterval(() => this.#sweep(), 250);
    this.#timer.unref();
    if (options.directLinks !== false) {
      this.#links = new NodeLinks({
        nc: options.nc,
        namespace: this.#namespace,
        onMessage: (message) => this.#route(message),
        onClose: (link) => this.#linkClosed(link),
      });
      this.#links.start();
    }
  }

  supports(runtime: Runtime): boolean {
    return !isEdgeRuntime(runtime);
  }

  invoke(
    target: DeployedVersion,
    request: InvocationRequest,
    signal?: CallerSignal,
  ): Promise<InvocationResult> {
    const token = (++this.#next).toString(36);
    const frame = maxFramePayload(this.#nc.info?.max_payload);
    const body = request.body && request.body.byteLength > 0 ? request.body : null;
    const chunks = body ? Math.ceil(body.byteLength / frame) : 0;
    const meta: InvokeRequestMeta = invokeRequestMeta(target, request, body?.byteLength ?? 0);
    if (chunks > 1) meta.pull = { subject: `${this.#prefix}.b.${token}`, chunks };
    const subject = subjects.invoke(target.versionId, this.#namespace);
    const span = this.#publishSpan(target, request, subject);
    // The autoscaler continues the trace from the frame's headers: the NATS request is its parent.
    if (span) meta.headers = withTraceparent(meta.headers, span);
    return new Promise<InvocationResult>((resolve) => {
      let stream: BodyQueue | undefined;
      const done = (error?: ErrorBody) => {
        this.#pending.delete(token);
        signal?.removeEventListener("abort", onAbort);
        if (span) endSpan(span, error);
      };
      const onAbort = () => {
        const pending = this.#pending.get(token);
        if (pending?.cancel) this.#out.publish(pending.cancel, encodeFrame({ k: "cancel" }));
        else this.#out.publish(subjects.invokeCancel(this.#namespace), ENCODER.encode(request.invocationId));
        const gone: ErrorBody = { code: "FN_008", message: "the caller went away" };
        done(gone);
        // Before the head the call has no result yet: it ends here, so the invocation is recorded.
        if (stream) stream.fail(new Error(gone.message));
        else resolve(errorResult(gone));
      };
      const pending: Pending = {
        target,
        deadline: request.deadline,
        lastHeard: Date.now(),
        body,
        chunk: frame,
        onFrame: (m, payload) => {
          if (m.k === "beat") {
            if (m.cancel) pending.cancel = m.cancel;
            return;
          }
          if (m.k === "head") {
            if (m.cancel) pending.cancel = m.cancel;
            span?.setAttribute(ATTR.faasColdstart, m.coldStart !== "warm");
            if (m.end) {
              done();
              resolve(fromShimResponse(m, payload));
              return;
            }
            stream = new BodyQueue();
            resolve({
              status: m.status,
              headers: m.headers,
              body: stream,
              coldStart: m.coldStart,
              queueMs: m.queueMs,
              logs: [],
              ...(m.usage ? { usage: m.usage } : {}),
            });
            return;
          }
          if (m.k === "data") {
            if (payload.byteLength > 0) stream?.push(payload);
            if (m.end) {
              stream?.end();
              done();
            }
            return;
          }
          if (m.k === "error") {
            done(m.error);
            if (stream) stream.fail(new Error(`${m.error.code}: ${m.error.message}`));
            else resolve(errorResult(m.error, m.coldStart, m.queueMs));
          }
        },
        fail: (error) => {
          done(error);
          if (stream) stream.fail(new Error(`${error.code}: ${error.message}`));
          else resolve(errorResult(error));
        },
      };
      this.#pending.set(token, pending);
      signal?.addEventListener("abort", onAbort, { once: true });
      const first = body ? body.subarray(0, frame) : undefined;
      const reply = `${this.#prefix}.r.${token}`;
      const link = this.#links?.current();
      // The frame is the NATS one either way; the span says which way it went.
      span?.setAttribute(ATTR.transport, link ? "link" : "nats");
      if (link) {
        pending.link = link;
        link.publish(subject, encodeFrame(meta, first), reply);
      } else this.#out.publish(subject, encodeFrame(meta, first), { reply });
    });
  }

  /**
   * The span of the request to the node, when tracing is on: a child of the gateway's request span.
   * Its messaging attributes name the NATS subject the frame is addressed to, also when the node's
   * direct link carries it (`kumo.transport` says which).
   */
  #publishSpan(target: DeployedVersion, request: InvocationRequest, subject: string): Span | undefined {
    const tracer = tracerFor(request.traceparent);
    if (!tracer) return undefined;
    const span = tracer.startSpan(
      "publish kumo.invoke",
      {
        kind: SpanKind.CLIENT,
        attributes: invocationAttributes(target),
      },
      contextOf(request.traceparent),
    );
    span.setAttributes({
      [ATTR.messagingSystem]: "nats",
      [ATTR.messagingOperation]: "send",
      [ATTR.messagingDestination]: subject,
      [ATTR.faasInvocationId]: request.invocationId,
      [ATTR.faasInvokedName]: target.functionName,
      [ATTR.runtime]: target.runtime,
    });
    return span;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#links?.stop();
    for (const pending of [...this.#pending.values()])
      pending.fail({ code: "FN_008", message: "the gateway is stopping" });
    this.#sub.unsubscribe();
  }

  /** What went over a link that closed will get no answer: it fails now, not at the silence limit. */
  #linkClosed(link: LinkClient): void {
    for (const pending of [...this.#pending.values()]) {
      if (pending.link === link)
        pending.fail({
          code: "FN_008",
          message: "the connection to the autoscaler node running the invocation closed; retry the request",
        });
    }
  }

  #route(msg: Reply): void {
    const rest = msg.subject.slice(this.#prefix.length + 1);
    const kind = rest.slice(0, 1);
    const pending = this.#pending.get(rest.slice(2));
    if (!pending) return;
    pending.lastHeard = Date.now();
    if (kind === "b") {
      // A node pulls chunk i of the request body.
      const i = Number(new TextDecoder().decode(msg.data));
      const body = pending.body;
      if (msg.reply && msg.respond && body && Number.isInteger(i))
        msg.respond(body.subarray(i * pending.chunk, (i + 1) * pending.chunk));
      return;
    }
    if (msg.data.byteLength === 0 && msg.headers?.code === 503) {
      pending.fail({
        code: "FN_008",
        message: `no autoscaler is serving container functions (runtime "${pending.target.runtime}"); start the autoscaler service`,
      });
      return;
    }
    let frame: { meta: InvokeReplyMeta; payload: Uint8Array };
    try {
      frame = decodeFrame<InvokeReplyMeta>(msg.data);
    } catch {
      return;
    }
    pending.onFrame(frame.meta, frame.payload);
  }

  #sweep(): void {
    const now = Date.now();
    for (const pending of [...this.#pending.values()]) {
      if (now > pending.deadline + 2000) {
        pending.fail({
          code: "FN_002",
          message: `no response within the function's timeout of ${pending.target.config.timeoutMs} ms`,
        });
      } else if (now - pending.lastHeard > this.#silenceMs) {
        pending.fail({
          code: "FN_008",
          message: "the autoscaler node running the invocation stopped responding; retry the request",
        });
      }
    }
  }
}

/** A response body that arrives frame by frame, consumed once as an async iterable. */
class BodyQueue implements AsyncIterable<Uint8Array> {
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  fail(error: Error): void {
    this.#error = error;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk) {
        yield chunk;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}
