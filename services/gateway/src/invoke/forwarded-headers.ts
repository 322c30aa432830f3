import type { BlockList } from "node:net";
import { isIP } from "node:net";
import type { TLSSocket } from "node:tls";
import type { FastifyRequest } from "fastify";
import { cidrList, forwardedHops, listHas, normalizeAddress } from "../limits/client-address.ts";

/** The operator's trusted proxies, compiled once per configuration (the config's array is the key). */
const compiled = new WeakMap<readonly string[], BlockList>();

function trustedList(cidrs: readonly string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  let list = compiled.get(cidrs);
  if (!list) {
    list = cidrList(cidrs);
    compiled.set(cidrs, list);
  }
  return list;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const comma = text.indexOf(",");
  return (comma < 0 ? text : text.slice(0, comma)).trim() || undefined;
}

/** An RFC 7239 node: IPv6 addresses are bracketed and quoted; no address is "unknown". */
function forwardedNode(address: string): string {
  if (address === "") return "unknown";
  return isIP(address) === 6 ? `"[${address}]"` : address;
}

const QUOTED = /["\\]/g;

/**
 * Sets X-Forwarded-For/-Proto/-Host/-Prefix and Forwarded on a function's request, replacing what
 * the client sent: a client's values are believed only when its peer is one of the operator's
 * trusted proxies (KUMO_TRUSTED_PROXIES), and then the gateway's hop is added to them. `prefix` is
 * the part of the path the gateway stripped ("/fn/acme/hello"); empty when the function sees the
 * path the client used, and then no X-Forwarded-Prefix is sent (unless a trusted proxy sent one).
 */
export function setForwardedHeaders(
  headers: Record<string, string>,
  request: FastifyRequest,
  trustedProxies: readonly string[],
  prefix: string,
): void {
  const socket = request.raw.socket;
  const trusted = trustedList(trustedProxies);
  const incoming = request.headers;
  const peer = normalizeAddress(socket?.remoteAddress ?? "");
  const viaProxy = trusted !== undefined && listHas(trusted, peer);
  // The common case, a direct client, allocates nothing beyond the header values.
  const hops = viaProxy ? forwardedHops(peer, incoming["x-forwarded-for"], trusted) : undefined;
  const claimedProto = viaProxy ? firstValue(incoming["x-forwarded-proto"])?.toLowerCase() : undefined;
  const proto =
    claimedProto === "https" || claimedProto === "http"
      ? claimedProto
      : (socket as TLSSocket | undefined)?.encrypted
        ? "https"
        : "http";
  const host = (viaProxy ? firstValue(incoming["x-forwarded-host"]) : undefined) ?? incoming.host ?? "";
  const outerPrefix = viaProxy ? firstValue(incoming["x-forwarded-prefix"]) : undefined;
  const fullPrefix = outerPrefix ? `${outerPrefix.replace(/\/+$/, "")}${prefix}` : prefix;

  // A unix-socket listener has no peer address: then the function gets none rather than the client's.
  const forwardedFor = hops ? hops.join(", ") : peer;
  if (forwardedFor) headers["x-forwarded-for"] = forwardedFor;
  else if (headers["x-forwarded-for"] !== undefined) delete headers["x-forwarded-for"];
  headers["x-forwarded-proto"] = proto;
  headers["x-forwarded-host"] = host;
  if (fullPrefix) headers["x-forwarded-prefix"] = fullPrefix;
  else if (headers["x-forwarded-prefix"] !== undefined) delete headers["x-forwarded-prefix"];
  // Forwarded says the same in one header: the client's element carries host and proto, then one
  // element per trusted proxy.
  let forwarded = `for=${forwardedNode(hops?.[0] ?? peer)};host="${host.replace(QUOTED, "\\$&")}";proto=${proto}`;
  if (hops) for (let i = 1; i < hops.length; i++) forwarded += `, for=${forwardedNode(hops[i] ?? "")}`;
  headers.forwarded = forwarded;
  // X-Real-IP (nginx's convention, read by many frameworks) is the client too, never the client's claim.
  const client = hops?.[0] ?? peer;
  if (client) headers["x-real-ip"] = client;
  else if (headers["x-real-ip"] !== undefined) delete headers["x-real-ip"];
}
