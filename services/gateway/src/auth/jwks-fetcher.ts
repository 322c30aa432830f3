import { lookup } from "node:dns/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { isRestrictedAddress } from "@kumo/core";
import type { JSONWebKeySet } from "jose";

export interface JwksFetcherOptions {
  /** Allow loopback, private, link-local and metadata addresses (operators only; tests). */
  allowPrivate: boolean;
  timeoutMs: number;
  /** Host name to addresses; the system resolver unless a test injects one. */
  resolve?: (hostname: string) => Promise<string[]>;
}

/** A JWKS is a few keys; anything larger is not one. */
const MAX_BYTES = 256 * 1024;

/**
 * GETs a JWKS under the same outbound policy as webhooks and edge `fetch`: every resolved address
 * must be public unless the operator allows private ones (KUMO_JWKS_ALLOW_PRIVATE), the connection
 * goes to the address that was checked, no redirects, a timeout and a size cap. A tenant's
 * kumo.json names the URL, so without this a jwksUrl would be a way to probe the gateway's network.
 */
export class JwksFetcher {
  readonly #options: JwksFetcherOptions;
  readonly #resolve: (hostname: string) => Promise<string[]>;

  constructor(options: JwksFetcherOptions) {
    this.#options = options;
    this.#resolve =
      options.resolve ?? (async (host) => (await lookup(host, { all: true })).map((a) => a.address));
  }

  /** The key set at `url`; throws an Error whose message is for the operator's log, never a client. */
  async fetch(url: string): Promise<JSONWebKeySet> {
    const target = new URL(url);
    if (target.protocol !== "http:" && target.protocol !== "https:")
      throw new Error(`only http and https JWKS URLs are allowed, not ${target.protocol}`);
    const host = target.hostname.replace(/^\[|\]$/g, "");
    const addresses = isIP(host) ? [host] : await this.#resolve(host);
    const address = addresses[0];
    if (address === undefined) throw new Error(`${host} does not resolve`);
    if (!this.#options.allowPrivate) {
      const bad = addresses.find((a) => isRestrictedAddress(a));
      if (bad !== undefined)
        throw new Error(
          `refused: ${host} resolves to ${bad}, a loopback, private, link-local or metadata address (the operator can allow them with KUMO_JWKS_ALLOW_PRIVATE=true)`,
        );
    }
    const family = isIP(address);
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if (options.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = (target.protocol === "https:" ? httpsRequest : httpRequest)(
        target,
        {
          method: "GET",
          lookup: pinned,
          timeout: this.#options.timeoutMs,
          signal: AbortSignal.timeout(this.#options.timeoutMs),
          headers: { accept: "application/json", "user-agent": "kumo-gateway (jwks)" },
        },
        resolve,
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.#options.timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
    if (res.statusCode !== 200) {
      res.resume();
      throw new Error(`the JWKS URL answered ${res.statusCode ?? 0}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res) {
      size += (chunk as Buffer).byteLength;
      if (size > MAX_BYTES) {
        res.destroy();
        throw new Error(`the JWKS is larger than ${MAX_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys))
      throw new Error("the JWKS URL did not answer a key set ({ keys: [...] })");
    return parsed as JSONWebKeySet;
  }
}
