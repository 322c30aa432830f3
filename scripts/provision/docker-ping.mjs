// Is a Docker engine answering? `GET /_ping` over its API socket, with node:http only.
import { request } from "node:http";
import { capture } from "./proc.mjs";

export const DEFAULT_SOCKET = "/var/run/docker.sock";
const TIMEOUT_MS = 3000;

/**
 * @typedef {{ kind: "unix", socketPath: string } | { kind: "tcp", host: string, port: number } | { kind: "other", value: string }} DockerEndpoint
 */

/**
 * Where the engine is expected, from DOCKER_HOST (unset: the default socket).
 * @param {string | undefined} dockerHost
 * @returns {DockerEndpoint}
 */
export function dockerEndpoint(dockerHost) {
  if (!dockerHost) return { kind: "unix", socketPath: DEFAULT_SOCKET };
  if (dockerHost.startsWith("unix://"))
    return { kind: "unix", socketPath: dockerHost.slice("unix://".length) };
  if (dockerHost.startsWith("tcp://")) {
    const url = new URL(dockerHost);
    return { kind: "tcp", host: url.hostname, port: Number(url.port || 2375) };
  }
  return { kind: "other", value: dockerHost };
}

/** @param {DockerEndpoint} endpoint */
export function describeEndpoint(endpoint) {
  if (endpoint.kind === "unix") return `unix://${endpoint.socketPath}`;
  if (endpoint.kind === "tcp") return `tcp://${endpoint.host}:${endpoint.port}`;
  return endpoint.value;
}

/**
 * @param {DockerEndpoint} endpoint
 * @returns {Promise<{ ok: true, version?: string } | { ok: false, reason: string, code?: string }>}
 */
export async function pingDocker(endpoint) {
  // ssh:// and other transports: let the docker CLI deal with them.
  if (endpoint.kind === "other") {
    const version = capture("docker", ["info", "--format", "{{.ServerVersion}}"]);
    return version !== undefined ? { ok: true, version } : { ok: false, reason: "`docker info` failed" };
  }
  const ping = await get(endpoint, "/_ping");
  if ("error" in ping) return { ok: false, reason: ping.error, code: ping.code };
  if (ping.status !== 200) return { ok: false, reason: `/_ping answered ${ping.status}` };
  const version = await get(endpoint, "/version");
  return { ok: true, version: "body" in version ? parseVersion(version.body) : undefined };
}

/** @param {string} body */
function parseVersion(body) {
  try {
    return JSON.parse(body).Version;
  } catch {
    return undefined;
  }
}

/**
 * @param {{ kind: "unix", socketPath: string } | { kind: "tcp", host: string, port: number }} endpoint
 * @param {string} path
 * @returns {Promise<{ status: number | undefined, body: string } | { error: string, code?: string }>}
 */
function get(endpoint, path) {
  const target =
    endpoint.kind === "unix"
      ? { socketPath: endpoint.socketPath }
      : { host: endpoint.host, port: endpoint.port };
  return new Promise((resolve) => {
    const req = request({ ...target, path, method: "GET", timeout: TIMEOUT_MS }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("timeout", () =>
      req.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS / 1000}s`), { code: "ETIMEDOUT" })),
    );
    req.on("error", (error) =>
      resolve({ error: error.message, code: /** @type {NodeJS.ErrnoException} */ (error).code }),
    );
    req.end();
  });
}
