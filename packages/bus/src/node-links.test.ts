import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus } from "./connect-bus.ts";
import { LinkServer } from "./direct-link.ts";
import { type NodeBeat, NodeLinks } from "./node-links.ts";
import { subjects } from "./subjects.ts";

let nc: NatsConnection;
let dir: string;
const servers: LinkServer[] = [];

beforeAll(async () => {
  nc = await connectBus({
    url: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
    name: "kumo-node-links-test",
  });
  dir = mkdtempSync(join(tmpdir(), "kumo-links-"));
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await nc.close();
  rmSync(dir, { recursive: true, force: true });
});

async function node(nodeId: string, namespace: string): Promise<LinkServer> {
  const server = new LinkServer({
    path: join(dir, `${nodeId}.sock`),
    namespace,
    nodeId,
    onMessage: () => {},
  });
  await server.listen();
  servers.push(server);
  return server;
}

/**
 * What the gateway uses once the beats are in: polls until it is `expected` (a link opens on the
 * first current() call and is usable after the node's hello), or for a while when none is.
 */
async function settle(links: NodeLinks, expected?: string): Promise<string | undefined> {
  await nc.flush();
  const until = Date.now() + (expected ? 2500 : 200);
  for (;;) {
    const link = links.current()?.nodeId;
    if ((expected && link === expected) || Date.now() > until) return link;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("node links (the gateway's choice of a direct link)", () => {
  it("links to the only live node that offers a socket, and to none while two are live or after a bye", async () => {
    const namespace = `t${randomBytes(4).toString("hex")}`;
    const beat = (b: NodeBeat) => nc.publish(subjects.nodes(namespace), JSON.stringify(b));
    const closed: string[] = [];
    const links = new NodeLinks({
      nc,
      namespace,
      onMessage: () => {},
      onClose: (link) => closed.push(link.nodeId),
    });
    links.start();
    try {
      const a = await node(`a-${namespace}`, namespace);
      const b = await node(`b-${namespace}`, namespace);
      expect(links.current()).toBeUndefined();
      beat({ nodeId: `a-${namespace}`, link: a.path, every: 2000 });
      expect(await settle(links, `a-${namespace}`)).toBe(`a-${namespace}`);
      // A second node: NATS's queue group shares the work, so no link (the open one is closed).
      beat({ nodeId: `b-${namespace}`, link: b.path, every: 2000 });
      expect(await settle(links)).toBeUndefined();
      expect(closed).toContain(`a-${namespace}`);
      // The first says goodbye: the one left is linked.
      beat({ nodeId: `a-${namespace}`, bye: true });
      expect(await settle(links, `b-${namespace}`)).toBe(`b-${namespace}`);
      beat({ nodeId: `b-${namespace}`, bye: true });
      expect(await settle(links)).toBeUndefined();
      // A node without a socket (another machine, or KUMO_DIRECT_LINK off) is not linked.
      beat({ nodeId: `c-${namespace}`, every: 2000 });
      expect(await settle(links)).toBeUndefined();
    } finally {
      links.stop();
    }
  });

  it("forgets a node silent for three of its heartbeats, and never links to a socket that is another node's or another installation's", async () => {
    const namespace = `t${randomBytes(4).toString("hex")}`;
    const beat = (b: NodeBeat) => nc.publish(subjects.nodes(namespace), JSON.stringify(b));
    const links = new NodeLinks({ nc, namespace, onMessage: () => {}, onClose: () => {} });
    links.start();
    try {
      const d = await node(`d-${namespace}`, namespace);
      beat({ nodeId: `d-${namespace}`, link: d.path, every: 100 });
      expect(await settle(links, `d-${namespace}`)).toBe(`d-${namespace}`);
      await new Promise((r) => setTimeout(r, 350));
      expect(links.current()).toBeUndefined();
      // A beat naming node e but pointing at d's socket: d's hello does not match, so no link.
      beat({ nodeId: `e-${namespace}`, link: d.path, every: 2000 });
      expect(await settle(links)).toBeUndefined();
      beat({ nodeId: `e-${namespace}`, bye: true });
      // The same node id in another installation (sharing the data directory): not this one's node.
      const other = await node(`f-${namespace}`, "another-installation");
      beat({ nodeId: `f-${namespace}`, link: other.path, every: 2000 });
      expect(await settle(links)).toBeUndefined();
    } finally {
      links.stop();
    }
  });
});
