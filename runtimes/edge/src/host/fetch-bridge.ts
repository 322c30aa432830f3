import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { headerPairs } from "@kumo/core/invocation-result";
import type { FetchPolicy } from "../host-protocol.ts";
import { isAllowedHost, isRestrictedAddress } from "./address-policy.ts";

/** What the isolate's fetch() hands to the host. */
export interface BridgeRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: string | Uint8Array | null;
  redirect: string;
}

export interface BridgeResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
  url: string;
  redirected: boolean;
}

/** Per-invocation state shared by all of its subrequests. */
export interface FetchBudget {
  remaining: number;
  deadline: number;
}

export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const defaultResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

const HOP_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "te",
  "trailer",
]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class FetchRefusedError extends Error {
  override readonly name = "FetchRefusedError";
}

/**
 * fetch() for tenant code. Every hop resolves DNS here, refuses restricted addresses, then connects to
 * exactly the address it checked (no second resolution a DNS rebinding could race), and follows
 * redirects by hand so each hop is checked again. Limits: subrequests, time, response size.
 */
export async function bridgeFetch(
  request: BridgeRequest,
  policy: FetchPolicy,
  budget: FetchBudget,
  resolve: Resolver = defaultResolver,
): Promise<BridgeResponse> {
  let url = request.url;
  let method = request.method.toUpperCase();
  let body = request.body;
  const headers = request.headers.filter(([k]) => !HOP_HEADERS.has(k.toLowerCase()));
  for (let hop = 0; ; hop++) {
    const target = await checkTarget(url, policy, budget, resolve);
    const response = await send(target, method, headers, body, policy, budget);
    if (!REDIRECTS.has(response.status) || request.redirect === "manual") {
      return { ...response, url, redirected: hop > 0 };
    }
    if (request.redirect === "error")
      throw new TypeError(`fetch to ${url} was redirected (redirect: "error")`);
    const location = response.headers.find(([k]) => k === "location")?.[1];
    if (location === undefined) return { ...response, url, redirected: hop > 0 };
    if (hop >= policy.maxRedirects) throw new TypeError(`fetch to ${request.url}: too many redirects`);
    url = new URL(location, url).href;
    if (
      response.status === 303 ||
      ((response.status === 301 || response.status === 302) && method === "POST")
    ) {
      method = method === "HEAD" ? "HEAD" : "GET";
      body = null;
    }
  }
}

interface Target {
  url: URL;
  address: string;
  family: number;
}

async function checkTarget(
  text: string,
  policy: FetchPolicy,
  budget: FetchBudget,
  resolve: Resolver,
): Promise<Target> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`Invalid URL: ${text}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`fetch: unsupported protocol ${url.protocol}`);
  }
  if (budget.remaining <= 0) throw new TypeError("Too many subrequests for this invocation");
  budget.remaining--;
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const exempt = policy.allowPrivateAddresses || isAllowedHost(hostname, policy.allowedHosts);
  const family = isIP(hostname);
  let addresses: { address: string; family: number }[];
  if (family !== 0) addresses = [{ address: hostname, family }];
  else {
    try {
      addresses = await resolve(hostname);
    } catch {
      throw new TypeError(`fetch: could not resolve ${hostname}`);
    }
  }
  const first = addresses[0];
  if (!first) throw new TypeError(`fetch: ${hostname} has no addresses`);
  if (!exempt) {
    const bad = addresses.find((a) => isRestrictedAddress(a.address));
    if (bad) {
      throw new FetchRefusedError(
        `fetch to ${hostname} refused: ${bad.address} is a loopback, private, link-local or metadata address`,
      );
    }
  }
  return { url, address: first.address, family: first.family };
}

function send(
  target: Target,
  method: string,
  headers: [string, string][],
  body: string | Uint8Array | null,
  policy: FetchPolicy,
  budget: FetchBudget,
): Promise<Omit<BridgeResponse, "url" | "redirected">> {
  const timeoutMs = Math.max(1, Math.min(policy.subrequestTimeoutMs, budget.deadline - Date.now()));
  const payload = body === null ? null : typeof body === "string" ? Buffer.from(body) : body;
  const outgoing: Record<string, string | string[]> = {};
  for (const [k, v] of headers) {
    const key = k.toLowerCase();
    const prev = outgoing[key];
    outgoing[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  outgoing.host = target.url.host;
  if (payload) outgoing["content-length"] = String(payload.byteLength);
  const client = target.url.protocol === "https:" ? https : http;
  return new Promise((resolvePromise, reject) => {
    const req = client.request(
      {
        method,
        host: target.address,
        family: target.family,
        port: target.url.port || (target.url.protocol === "https:" ? 443 : 80),
        path: `${target.url.pathname}${target.url.search}`,
        headers: outgoing,
        servername: isIP(target.url.hostname) ? undefined : target.url.hostname,
        agent: false,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > policy.maxResponseBytes) {
            req.destroy(new TypeError(`fetch: response exceeds ${policy.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          const buffer = Buffer.concat(chunks);
          resolvePromise({
            status: res.statusCode ?? 502,
            statusText: res.statusMessage ?? "",
            headers: headerPairs(res.rawHeaders),
            body: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength),
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", (error) => {
      reject(
        error.name === "AbortError" || error.name === "TimeoutError"
          ? new TypeError(`fetch to ${target.url.host} timed out after ${timeoutMs} ms`)
          : error instanceof TypeError
            ? error
            : new TypeError(`fetch to ${target.url.host} failed: ${error.message}`),
      );
    });
    if (payload) req.end(payload);
    else req.end();
  });
}
