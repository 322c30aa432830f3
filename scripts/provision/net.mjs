import { connect } from "node:net";

/**
 * Host and port of a service URL. Accepts a bare `host:port` (as people write NATS_URL) and,
 * for a comma-separated server list, uses the first entry.
 * @param {string} url
 * @param {number} defaultPort
 * @returns {{ host: string, port: number }}
 */
export function parseEndpoint(url, defaultPort) {
  const first = url.split(",")[0].trim();
  const parsed = new URL(first.includes("://") ? first : `tcp://${first}`);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  return { host, port: parsed.port ? Number(parsed.port) : defaultPort };
}

/**
 * Only services on this machine are ours to start; a remote one being down is reported, not fixed.
 * @param {string} host
 */
export function isLoopback(host) {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/** @param {string} host */
export function formatHostPort(host, port) {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Open a TCP connection and hand the socket to `onConnect`, which resolves the result.
 * Any error or the timeout resolves `fallback`, so callers never see an exception.
 * @template T
 * @param {{ host: string, port: number, timeoutMs?: number, fallback: T }} target
 * @param {(socket: import("node:net").Socket, done: (value: T) => void) => void} onConnect
 * @returns {Promise<T>}
 */
export function withTcpConnection(target, onConnect) {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    let settled = false;
    const done = (value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(target.fallback), target.timeoutMs ?? 2000);
    socket.once("error", () => done(target.fallback));
    socket.once("connect", () => onConnect(socket, done));
  });
}

/**
 * Whether something accepts TCP connections at host:port.
 * @param {string} host
 * @param {number} port
 */
export function acceptsTcp(host, port) {
  return withTcpConnection({ host, port, fallback: false }, (_socket, done) => done(true));
}
