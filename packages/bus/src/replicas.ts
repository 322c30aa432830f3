import type { NatsConnection } from "@nats-io/transport-node";

/** Most replicas a stream gets: three survive the loss of any one server (quorum 2 of 3). */
const MAX_REPLICAS = 3;

/**
 * How many copies JetStream keeps of Kumo's streams and buckets: one on a single server, three in a
 * cluster of three or more (a lost server loses nothing and writes go on), as many as there are
 * servers in a smaller cluster. Read from the server's INFO (`connect_urls` lists every server of
 * the cluster, this one included), so every service of an installation picks the same number.
 */
export function streamReplicas(nc: NatsConnection): number {
  const info = nc.info;
  if (!info?.cluster) return 1;
  return Math.max(1, Math.min(MAX_REPLICAS, info.connect_urls?.length ?? 1));
}

/**
 * `expires` of the pull requests behind a long-lived `consume()`. nats.js sends idle heartbeats at
 * half of it and re-pulls after two are missed; with its default (30 s) a consumer whose server died
 * or whose stream leader moved sat idle for ~30 s (seen in the cluster test: async work stalled 33 s
 * after a NATS node was killed). 5 s bounds that to ~5 s, for one small pull request per 5 s when idle.
 */
export const PULL_EXPIRES_MS = 5_000;
