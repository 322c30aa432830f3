import { randomBytes } from "node:crypto";
import { connectBus, jetstream, jetstreamManager, Kvm, type NatsConnection, streams } from "@kumo/bus";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaderLease } from "../../services/scheduler/src/leader-lease.ts";
import { NatsCluster } from "./nats-cluster.ts";

const TTL_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cluster: NatsCluster;
const connections: NatsConnection[] = [];
const leases: LeaderLease[] = [];

beforeAll(async () => {
  cluster = await NatsCluster.start(3);
}, 60_000);

afterAll(async () => {
  for (const lease of leases) await lease.stop(false).catch(() => {});
  for (const nc of connections) await nc.close().catch(() => {});
  await cluster?.stop();
});

/** A connection whose first server is the named node (it fails over to the others when that one dies). */
async function connectTo(node: number | "any"): Promise<NatsConnection> {
  let nc = await connectBus({ url: cluster.url, name: "lease-test" });
  // Clients pick a node at random; the test wants the one it names (and the others to fail over to).
  for (
    let tries = 0;
    node !== "any" && Number(nc.info?.port) !== cluster.portOf(node) && tries < 40;
    tries++
  ) {
    await nc.close();
    nc = await connectBus({ url: cluster.url, name: "lease-test" });
  }
  if (node !== "any") expect(Number(nc.info?.port)).toBe(cluster.portOf(node));
  connections.push(nc);
  return nc;
}

async function startLease(nc: NatsConnection, namespace: string, holder: string): Promise<LeaderLease> {
  const lease = new LeaderLease({ nc, namespace, holder, ttlMs: TTL_MS });
  leases.push(lease);
  await lease.start();
  return lease;
}

/**
 * Until the lease's bucket takes writes again through every node: a put of another key of the
 * bucket, which goes to its stream leader as a renewal does. Neither every node answering nor the
 * bucket's stream info answering is that moment: in runs here the stream's info answered on every
 * node while the leases' writes through one of them still got "JetStream not enabled" or no answer,
 * for up to 3.4 s more. Until then no lease can renew or take over, which is JetStream's doing, not
 * the lease's.
 */
async function waitBucketWritable(namespace: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (let node = 0; node < 3; node++) {
    const nc = await connectBus({ url: `nats://127.0.0.1:${cluster.portOf(node)}`, name: "bucket-probe" });
    try {
      const kv = await new Kvm(jetstream(nc, { timeout: 500, checkAPI: false })).open(
        streams.schedulerLease(namespace),
      );
      for (;;) {
        try {
          await kv.put("probe", String(node));
          break;
        } catch (error) {
          if (Date.now() > until) throw error;
          await sleep(50);
        }
      }
    } finally {
      await nc.close();
    }
  }
}

/** Samples who leads every 50 ms until `until` resolves: the instants with no leader and with two. */
async function watchLeaders(candidates: LeaderLease[], until: Promise<unknown>) {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const samples: { at: number; leaders: number }[] = [];
  while (!done) {
    samples.push({ at: Date.now(), leaders: candidates.filter((l) => l.isLeader()).length });
    await sleep(50);
  }
  return samples;
}

describe("scheduler lease - leader election over a three-node NATS cluster", () => {
  it("scheduler lease - the leader's NATS node is killed: a scheduler leads again within two lease lifetimes of its bucket taking writes again, never two at once", async () => {
    const namespace = `l${randomBytes(4).toString("hex")}`;
    const first = await startLease(await connectTo(0), namespace, "first");
    const second = await startLease(await connectTo(1), namespace, "second");
    expect(first.isLeader()).toBe(true);
    expect(second.isLeader()).toBe(false);
    let readyAt = 0;
    const scenario = (async () => {
      await sleep(1000);
      cluster.kill(0);
      await sleep(2000);
      cluster.restart(0);
      await cluster.waitReady();
      await waitBucketWritable(namespace);
      readyAt = Date.now();
      await sleep(3 * TTL_MS);
    })();
    const samples = await watchLeaders([first, second], scenario);
    expect(samples.filter((s) => s.leaders > 1)).toEqual([]);
    // Without a leader from some instant after the kill; leading again at most 2 × TTL after the
    // cluster answers and the lease's bucket takes writes again (JetStream's own recovery before
    // that is not the lease's doing: a CI run whose clock started when the nodes answered saw
    // 4,050 ms).
    const firstLed = samples.find((s) => s.at >= readyAt && s.leaders === 1);
    expect(firstLed, "a leader after the cluster came back").toBeDefined();
    expect((firstLed?.at ?? Number.POSITIVE_INFINITY) - readyAt).toBeLessThanOrEqual(2 * TTL_MS);
    expect(samples.filter((s) => s.at >= readyAt + 2 * TTL_MS && s.leaders !== 1)).toEqual([]);
  }, 90_000);

  it("scheduler lease - a dead holder's key that the server never expires is taken over after one lease lifetime", async () => {
    const namespace = `l${randomBytes(4).toString("hex")}`;
    // The bucket without a max age: the server expires nothing, as nats-server#3653 was seen doing
    // on some replicas of a bucket that has one.
    const nc = await connectTo("any");
    const kv = await new Kvm(nc).create(streams.schedulerLease(namespace), { history: 1, replicas: 3 });
    await kv.put(
      streams.schedulerLeaderKey,
      JSON.stringify({ holder: "dead", at: new Date().toISOString() }),
    );
    const startedAt = Date.now();
    const lease = await startLease(nc, namespace, "survivor");
    expect(lease.isLeader()).toBe(false);
    const samples = await watchLeaders(
      [lease],
      (async () => {
        while (!lease.isLeader() && Date.now() - startedAt < 5 * TTL_MS) await sleep(50);
      })(),
    );
    const ledAt = samples.at(-1)?.at ?? 0;
    expect(lease.isLeader(), "took the dead holder's key over").toBe(true);
    // Not before the key was seen unchanged for a lease lifetime; soon after.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(TTL_MS);
    expect(ledAt - startedAt).toBeLessThanOrEqual(2 * TTL_MS);
    const entry = await kv.get(streams.schedulerLeaderKey);
    expect(JSON.parse(entry?.string() ?? "{}").holder).toBe("survivor");
    await jetstreamManager(nc).then((jsm) => jsm.streams.delete(`KV_${streams.schedulerLease(namespace)}`));
  }, 60_000);

  it("scheduler lease - a renewal stored without its acknowledgement does not cost the leader its lead", async () => {
    const namespace = `l${randomBytes(4).toString("hex")}`;
    const nc = await connectTo("any");
    const lease = await startLease(nc, namespace, "holder");
    expect(lease.isLeader()).toBe(true);
    // What a renewal whose acknowledgement got lost leaves: a newer revision with our own holder.
    const kv = await new Kvm(nc).open(streams.schedulerLease(namespace));
    await kv.put(
      streams.schedulerLeaderKey,
      JSON.stringify({ holder: "holder", at: new Date().toISOString() }),
    );
    const samples = await watchLeaders([lease], sleep(2 * TTL_MS));
    expect(samples.filter((s) => s.leaders === 0)).toEqual([]);
    expect(lease.state).toBe("leading");
  }, 30_000);
});
