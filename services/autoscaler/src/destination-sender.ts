import { lookup } from "node:dns/promises";
import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { isRestrictedAddress } from "@kumo/core";

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

class Refused extends Error {}
class Permanent extends Error {}

/**
 * Delivers async invocation outcomes to the function's destination webhooks: POST JSON with a
 * timeout, retried with exponential backoff. The same address policy as edge `fetch` applies after
 * DNS resolution (every resolved address must be public unless the operator allows private ones),
 * and the connection goes to the address that was checked, so a second DNS answer cannot point it
 * elsewhere. Redirects are not followed. How many run at once, and durability, are the
 * DestinationQueue's: a delivery is a message in the destinations stream until it was made or
 * finally failed.
 */
export class DestinationSender {
  readonly #options: DestinationSenderOptions;
  readonly #resolve: (hostname: string) => Promise<string[]>;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #sockets = new Set<ClientRequest>();
  #stopped = false;

  constructor(options: DestinationSenderOptions) {
    this.#options = options;
    this.#resolve =
      options.resolve ?? (async (host) => (await lookup(host, { all: true })).map((a) => a.address));
  }

  /** Makes one delivery (retrying as configured); its outcome also goes to `onOutcome`. */
  send(
    kind: DestinationKind,
    url: string,
    payload: DestinationPayload,
    owner: { tenantId: string; functionId: string },
  ): Promise<DeliveryOutcome | undefined> {
    const done = this.#deliver(kind, url, payload, owner).then(
      (outcome) => {
        this.#options.onOutcome(outcome);
        return outcome;
      },
      () => undefined,
    );
    this.#inFlight.add(done);
    void done.finally(() => this.#inFlight.delete(done));
    return done;
  }

  /** True once stop() was called: an unfinished delivery was cut short, not refused. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Waits (bounded) for running deliveries, then aborts what is left. */
  async stop(graceMs = 5000): Promise<void> {
    this.#stopped = true;
    await Promise.race([Promise.all(this.#inFlight), new Promise((r) => setTimeout(r, graceMs))]);
    for (const req of this.#sockets) req.destroy(new Error("the node is stopping"));
  }

  async #deliver(
    kind: DestinationKind,
    url: string,
    payload: DestinationPayload,
    owner: { tenantId: string; functionId: string },
  ): Promise<DeliveryOutcome> {
    const base = { kind, url, invocationId: payload.invocationId, ...owner };
    const body = Buffer.from(JSON.stringify({ ...payload, destination: kind }));
    for (let attempts = 1; ; attempts++) {
      try {
        const statusCode = await this.#post(url, body, payload.invocationId);
        return { ...base, delivered: true, refused: false, attempts, statusCode };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof Refused)
          return { ...base, delivered: false, refused: true, attempts, error: message };
        if (error instanceof Permanent || attempts > this.#options.retries || this.#stopped)
          return { ...base, delivered: false, refused: false, attempts, error: message };
        await new Promise((r) => setTimeout(r, this.#options.retryBaseMs * 2 ** (attempts - 1)));
      }
    }
  }

  /** One POST; resolves to the 2xx status, throws Refused, Permanent or a retryable error. */
  async #post(url: string, body: Buffer, invocationId: string): Promise<number> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new Permanent(`not a URL: ${url}`);
    }
    if (target.protocol !== "http:" && target.protocol !== "https:")
      throw new Permanent(`only http and https destinations are allowed, not ${target.protocol}`);
    if (target.username || target.password) throw new Permanent("credentials in the URL are not allowed");
    const host = target.hostname.replace(/^\[|\]$/g, "");
    const addresses = isIP(host) ? [host] : await this.#resolve(host);
    if (addresses.length === 0) throw new Error(`${host} does not resolve`);
    if (!this.#options.allowPrivate) {
      const bad = addresses.find((a) => isRestrictedAddress(a));
      if (bad !== undefined)
        throw new Refused(
          `refused: ${host} resolves to ${bad}, a loopback, private, link-local or metadata address (the operator can allow them with KUMO_DESTINATIONS_ALLOW_PRIVATE=true)`,
        );
    }
    const address = addresses[0] as string;
    const family = isIP(address);
    // Connect to the address that was checked, whatever a second lookup would say.
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const options: RequestOptions = {
      method: "POST",
      lookup: pinned,
      timeout: this.#options.timeoutMs,
      signal: AbortSignal.timeout(this.#options.timeoutMs),
      headers: {
        "content-type": "application/json",
        "content-length": String(body.byteLength),
        "user-agent": "kumo-destinations/1",
        "kumo-invocation-id": invocationId,
      },
    };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (target.protocol === "https:" ? httpsRequest : httpRequest)(target, options, resolve);
      this.#sockets.add(req);
      req.on("close", () => this.#sockets.delete(req));
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.#options.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
    res.resume();
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return status;
    const text = `the destination answered ${status}`;
    if (status === 408 || status === 429 || status >= 500) throw new Error(text);
    throw new Permanent(text);
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
  return {
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
}
