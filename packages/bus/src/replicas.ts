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
