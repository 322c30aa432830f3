import { lookup } from "node:dns/promises";
import {
  type ClientRequest,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { isRestrictedAddress } from "./address-policy.ts";

export interface WebhookClientOptions {
  /** Allow loopback, private, link-local and metadata addresses (operators only; tests). */
  allowPrivate: boolean;
  /** The setting that allows them, named in the refusal so an operator knows what to change. */
  allowPrivateSetting: string;
  timeoutMs: number;
  /** Further attempts after the first on a network error, a timeout, 408, 429 or 5xx. */
  retries: number;
  retryBaseMs: number;
  userAgent: string;
  /** Host name to addresses; the system resolver unless a test injects one. */
  resolve?: (hostname: string) => Promise<string[]>;
}

/** How one webhook delivery went, after its retries. */
export interface WebhookResult {
  delivered: boolean;
  /** Refused by the address policy: nothing was sent. */
  refused: boolean;
  attempts: number;
  statusCode?: number;
  error?: string;
}

class Refused extends Error {}
class Permanent extends Error {}

/**
 * POSTs JSON to webhooks users configure (destinations, trigger alerts): a timeout, retries with
 * exponential backoff, no redirects. The same address policy as edge `fetch` applies after DNS
 * resolution (every resolved address must be public unless the operator allows private ones), and
 * the connection goes to the address that was checked, so a second DNS answer cannot point it
 * elsewhere.
 */
export class WebhookClient {
  readonly #options: WebhookClientOptions;
  readonly #resolve: (hostname: string) => Promise<string[]>;
  readonly #sockets = new Set<ClientRequest>();
  #stopped = false;

  constructor(options: WebhookClientOptions) {
    this.#options = options;
    this.#resolve =
      options.resolve ?? (async (host) => (await lookup(host, { all: true })).map((a) => a.address));
  }

  /** True once stop() was called: an unfinished delivery was cut short, not refused. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** No more retries: running attempts finish, failed ones are not tried again. */
  stop(): void {
    this.#stopped = true;
  }

  /** Cuts open connections (and stops retrying). */
  abort(): void {
    this.#stopped = true;
    for (const req of this.#sockets) req.destroy(new Error("the service is stopping"));
  }

  /** One delivery with its retries; never throws. */
  async post(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<WebhookResult> {
    for (let attempts = 1; ; attempts++) {
      try {
        const statusCode = await this.#postOnce(url, body, headers);
        return { delivered: true, refused: false, attempts, statusCode };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof Refused) return { delivered: false, refused: true, attempts, error: message };
        if (error instanceof Permanent || attempts > this.#options.retries || this.#stopped)
          return { delivered: false, refused: false, attempts, error: message };
        await new Promise((r) => setTimeout(r, this.#options.retryBaseMs * 2 ** (attempts - 1)));
      }
    }
  }

  /** One POST; resolves to the 2xx status, throws Refused, Permanent or a retryable error. */
  async #postOnce(url: string, body: Buffer, headers: Record<string, string>): Promise<number> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new Permanent(`not a URL: ${url}`);
    }
    if (target.protocol !== "http:" && target.protocol !== "https:")
      throw new Permanent(`only http and https webhooks are allowed, not ${target.protocol}`);
    if (target.username || target.password) throw new Permanent("credentials in the URL are not allowed");
    const host = target.hostname.replace(/^\[|\]$/g, "");
    const addresses = isIP(host) ? [host] : await this.#resolve(host);
    if (addresses.length === 0) throw new Error(`${host} does not resolve`);
    if (!this.#options.allowPrivate) {
      const bad = addresses.find((a) => isRestrictedAddress(a));
      if (bad !== undefined)
        throw new Refused(
          `refused: ${host} resolves to ${bad}, a loopback, private, link-local or metadata address (the operator can allow them with ${this.#options.allowPrivateSetting}=true)`,
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
        "user-agent": this.#options.userAgent,
        ...headers,
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
    const text = `the webhook answered ${status}`;
    if (status === 408 || status === 429 || status >= 500) throw new Error(text);
    throw new Permanent(text);
  }
}
