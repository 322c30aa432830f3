import { BlockList, isIP } from "node:net";
import { parseCidr } from "@kumo/core";

/** An IPv4 address written as IPv6 (::ffff:1.2.3.4), as dual-stack sockets report them, in plain form. */
export function normalizeAddress(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** A BlockList of CIDRs ("203.0.113.0/24", "::1"); entries that do not parse are skipped (schemas check them). */
export function cidrList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const cidr = parseCidr(text);
    if (cidr) list.addSubnet(normalizeAddress(cidr.address), cidr.prefix, cidr.family);
  }
  return list;
}

export function listHas(list: BlockList, address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address: the socket's peer, unless that peer is one of the operator's trusted
 * proxies (KUMO_TRUSTED_PROXIES); then X-Forwarded-For is read from the right, skipping trusted
 * proxies, and the first address no trusted proxy vouches for is the client. Without trusted
 * proxies the header is ignored, since any client can write it.
 */
export function clientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList | undefined,
): string {
  const address = normalizeAddress(socketAddress ?? "");
  if (!trusted || !listHas(trusted, address) || forwardedFor === undefined) return address;
  return forwardedHops(address, forwardedFor, trusted)[0] ?? address;
}

/**
 * The addresses a request came through, client first and the socket's peer last: the peer alone
 * unless it is a trusted proxy; then X-Forwarded-For from the right, up to and including the first
 * address no trusted proxy vouches for (its first element is `clientAddress`). What lies left of
 * that address, its client wrote.
 */
export function forwardedHops(
  socketAddress: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: BlockList | undefined,
): string[] {
  const peer = normalizeAddress(socketAddress ?? "");
  if (!trusted || !listHas(trusted, peer) || forwardedFor === undefined) return [peer];
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",");
  const chain = [peer];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress((hops[i] ?? "").trim());
    if (isIP(hop) === 0) break;
    chain.push(hop);
    if (!listHas(trusted, hop)) break;
  }
  return chain.reverse();
}
