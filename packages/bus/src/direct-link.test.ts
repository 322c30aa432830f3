import { mkdtempSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LinkClient, type LinkMessage, LinkServer } from "./direct-link.ts";

let dir: string;
let servers: LinkServer[] = [];
let clients: LinkClient[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kumo-link-"));
});
afterEach(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  clients = [];
  servers = [];
  rmSync(dir, { recursive: true, force: true });
});

/** A node that echoes every request to its reply subject, with "echo:" before the data. */
async function echoServer(nodeId = "node-a"): Promise<{ server: LinkServer; seen: LinkMessage[] }> {
  const seen: LinkMessage[] = [];
  const server = new LinkServer({
    path: join(dir, "links", "n.sock"),
    namespace: "ns1",
    nodeId,
    onMessage: (message, reply) => {
      seen.push({ ...message, data: Buffer.from(message.data) });
      reply(message.reply, Buffer.concat([Buffer.from("echo:"), message.data]));
    },
  });
  await server.listen();
  servers.push(server);
  return { server, seen };
}

function client(path: string, nodeId: string, onMessage: (m: LinkMessage) => void = () => {}) {
  const closed = { value: false };
  const c = new LinkClient({
    path,
    namespace: "ns1",
    nodeId,
    onMessage,
    onClose: () => {
      closed.value = true;
    },
  });
  clients.push(c);
  return { client: c, closed };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("direct link", () => {
  it("is usable once the node it expects says hello; requests and replies keep subject, reply and data", async () => {
    const { server, seen } = await echoServer();
    const got: LinkMessage[] = [];
    const { client: c } = client(server.path, "node-a", (m) => got.push({ ...m, data: Buffer.from(m.data) }));
    expect(c.ready).toBe(false);
    await until(() => c.ready);
    c.publish("kumo.invoke.v1", Buffer.from("hello"), "_INBOX.x.r.1");
    await until(() => got.length === 1);
    expect(seen[0]).toMatchObject({ subject: "kumo.invoke.v1", reply: "_INBOX.x.r.1" });
    expect(Buffer.from(seen[0]?.data ?? []).toString()).toBe("hello");
    expect(got[0]?.subject).toBe("_INBOX.x.r.1");
    expect(Buffer.from(got[0]?.data ?? []).toString()).toBe("echo:hello");
  });

  it("keeps order and bytes for many frames written in one turn and for frames split across reads", async () => {
    const { server } = await echoServer();
    const got: Buffer[] = [];
    const { client: c } = client(server.path, "node-a", (m) => got.push(Buffer.from(m.data)));
    await until(() => c.ready);
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    for (let i = 0; i < 500; i++) c.publish("s", Buffer.from(String(i)), `r.${i}`);
    c.publish("s", big, "r.big");
    c.publish("s", new Uint8Array(0), "r.empty");
    await until(() => got.length === 502, 10_000);
    expect(got.slice(0, 500).map((b) => b.toString())).toEqual(
      Array.from({ length: 500 }, (_, i) => `echo:${i}`),
    );
    expect(got[500]?.subarray(5).equals(big)).toBe(true);
    expect(got[501]?.toString()).toBe("echo:");
  });

  it("hangs up on a socket whose node is not the one expected, and never uses it", async () => {
    const { server, seen } = await echoServer("node-b");
    const { client: c, closed } = client(server.path, "node-a");
    await until(() => closed.value);
    expect(c.ready).toBe(false);
    c.publish("s", Buffer.from("x"), "r");
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(0);
  });

  it("tells the gateway when the node goes away", async () => {
    const { server } = await echoServer();
    const { client: c, closed } = client(server.path, "node-a");
    await until(() => c.ready);
    await server.close();
    servers = [];
    await until(() => closed.value);
    expect(c.ready).toBe(false);
  });

  it("is a socket only its owner can reach, in a directory only its owner can enter", async () => {
    const { server } = await echoServer();
    expect(statSync(server.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "links")).mode & 0o777).toBe(0o700);
  });

  it("cuts a peer that sends a frame with an impossible length or subjects past its end", async () => {
    const { server, seen } = await echoServer();
    for (const bad of [
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0]),
      Buffer.from([0, 0, 0, 6, 0, 9, 0x61, 0x62, 0, 0]),
    ]) {
      const socket = connect(server.path);
      socket.resume();
      await new Promise((r) => socket.once("connect", r));
      socket.write(bad);
      await new Promise((r) => socket.once("close", r));
    }
    expect(seen).toHaveLength(0);
  });

  it("refuses a socket path longer than a unix socket can have", async () => {
    const server = new LinkServer({
      path: join(dir, "x".repeat(120), "n.sock"),
      namespace: "ns1",
      nodeId: "n",
      onMessage: () => {},
    });
    await expect(server.listen()).rejects.toThrow(/longer than 107 bytes/);
  });
});
