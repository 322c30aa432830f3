import { type FunctionLogLine, isErrorCode, type StepOutcome, stepOutcome, WebhookClient } from "@kumo/core";

/** Which outcome a destination is told about. */
export const DESTINATION_KINDS = ["onSuccess", "onFailure"] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** Stored result bodies sent to a destination are cut to this many bytes. */
export const MAX_DESTINATION_RESULT_BYTES = 32 * 1024;

/** The JSON a destination receives. */
export interface DestinationPayload {
  invocationId: string;
  function: string;
  version: number;
  status: "succeeded" | "failed";
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
  finishedAt: string;
  /** The function's response (body cut to MAX_DESTINATION_RESULT_BYTES), or null when it gave none. */
  result: {
    statusCode: number;
    contentType: string | null;
    body: string;
    bodyEncoding: "utf8" | "base64";
    truncated: boolean;
  } | null;
  /**
   * A workflow step's outcome (`POST /v1/functions/:name/run` queued with kumo-invocation-type: async),
   * the object the sync run answers; absent for other invocations.
   */
  step?: StepOutcome;
}

export interface DeliveryOutcome {
  kind: DestinationKind;
  url: string;
  invocationId: string;
  tenantId: string;
  functionId: string;
  delivered: boolean;
  /** Refused by the address policy: nothing was sent. */
  refused: boolean;
  attempts: number;
  statusCode?: number;
  error?: string;
}

export interface DestinationSenderOptions {
  /** Allow loopback, private, link-local and metadata addresses (operators only; tests). */
  allowPrivate: boolean;
  timeoutMs: number;
  /** Further attempts after the first on a network error, a timeout, 408, 429 or 5xx. */
  retries: number;
  retryBaseMs: number;
  /** Host name to addresses; the system resolver unless a test injects one. */
  resolve?: (hostname: string) => Promise<string[]>;
  onOutcome(outcome: DeliveryOutcome): void;
}

/**
 * Delivers async invocation outcomes to the function's destination webhooks through a
 * WebhookClient (timeout, retries with backoff, the address policy of edge `fetch` after DNS
 * resolution, connection pinned to the checked address, no redirects). How many run at once, and
 * durability, are the DestinationQueue's: a delivery is a message in the destinations stream until
 * it was made or finally failed.
 */
export class DestinationSender {
  readonly #options: DestinationSenderOptions;
  readonly #client: WebhookClient;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: DestinationSenderOptions) {
    this.#options = options;
    this.#client = new WebhookClient({
      allowPrivate: options.allowPrivate,
      allowPrivateSetting: "KUMO_DESTINATIONS_ALLOW_PRIVATE",
      timeoutMs: options.timeoutMs,
      retries: options.retries,
      retryBaseMs: options.retryBaseMs,
      userAgent: "kumo-destinations/1",
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });
  }

  /** Makes one delivery (retrying as configured); its outcome also goes to `onOutcome`. */
  send(
    kind: DestinationKind,
    url: string,
    payload: DestinationPayload,
    owner: { tenantId: string; functionId: string },
  ): Promise<DeliveryOutcome | undefined> {
    const body = Buffer.from(JSON.stringify({ ...payload, destination: kind }));
    const done = this.#client
      .post(url, body, { "kumo-invocation-id": payload.invocationId })
      .then((result) => {
        const outcome: DeliveryOutcome = {
          kind,
          url,
          invocationId: payload.invocationId,
          ...owner,
          ...result,
        };
        this.#options.onOutcome(outcome);
        return outcome;
      });
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
    return done;
  }

  /** True once stop() was called: an unfinished delivery was cut short, not refused. */
  get stopped(): boolean {
    return this.#client.stopped;
  }

  /** Waits (bounded) for running deliveries, then aborts what is left. */
  async stop(graceMs = 5000): Promise<void> {
    this.#client.stop();
    await Promise.race([Promise.all(this.#inFlight), new Promise((r) => setTimeout(r, graceMs))]);
    this.#client.abort();
  }
}

/** The payload for an outcome; the body is cut and sent as text when its type says so, else base64. */
export function destinationPayload(input: {
  invocationId: string;
  functionName: string;
  version: number;
  attempts: number;
  error: { code: string; message: string } | undefined;
  response: { status: number; headers: [string, string][]; body: Buffer } | undefined;
  /** Set for a step invocation: its outcome is read from the response (and these lines, edge's). */
  step?: { logs: FunctionLogLine[] };
}): DestinationPayload {
  const { response } = input;
  let result: DestinationPayload["result"] = null;
  if (response && response.status > 0) {
    const contentType = response.headers.find(([name]) => name === "content-type")?.[1] ?? null;
    const cut = response.body.subarray(0, MAX_DESTINATION_RESULT_BYTES);
    const text =
      contentType === null ||
      /^(text\/|application\/(json|xml|javascript)|[^;]*\+(json|xml))/i.test(contentType);
    result = {
      statusCode: response.status,
      contentType,
      body: cut.toString(text ? "utf8" : "base64"),
      bodyEncoding: text ? "utf8" : "base64",
      truncated: cut.byteLength < response.body.byteLength,
    };
  }
  const payload: DestinationPayload = {
    invocationId: input.invocationId,
    function: input.functionName,
    version: input.version,
    status: input.error ? "failed" : "succeeded",
    errorCode: input.error?.code ?? null,
    errorMessage: input.error?.message ?? null,
    attempts: input.attempts,
    finishedAt: new Date().toISOString(),
    result,
  };
  if (input.step) {
    const error = input.error;
    payload.step = response
      ? stepOutcome(
          {
            status: response.status,
            headers: response.headers,
            logs: input.step.logs,
            ...(error && isErrorCode(error.code)
              ? { error: { code: error.code, message: error.message } }
              : {}),
          },
          response.body,
        )
      : {
          output: null,
          nextPath: "error",
          error: {
            code: error && isErrorCode(error.code) ? error.code : "FN_500",
            message: error?.message ?? "",
          },
          logs: input.step.logs,
        };
  }
  return payload;
}
