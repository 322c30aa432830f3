import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connectBus,
  decodeFrame,
  encodeFrame,
  type InvokeReplyMeta,
  type InvokeRequestMeta,
  type LinkMessage,
  LinkServer,
  type NatsConnection,
  subjects,
} from "@kumo/bus";
import { type DeployedVersion, functionConfigSchema, type InvocationRequest } from "@kumo/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContainerProvider } from "./container-provider.ts";

// The gateway's side of sync container calls against a stand-in node: real NATS for the node's
// heartbeat, the real direct link for the frames. (The whole plane, with a real autoscaler and
// containers, is test/invocation/sync.test.ts.)

let nc: NatsConnection;
let dir: string;

beforeAll(async () => {
  nc = await connectBus({ url: process.env.NATS_URL ?? "nats://127.0.0.1:4222", name: "kumo-gw-link-test" });
  dir = mkdtempSync(join(tmpdir(), "kumo-gw-link-"));
});
afterAll(async () => {
  await nc.close();
  rmSync(dir, { recursive: true, force: true });
});

const target: DeployedVersion = {
  tenantId: "t1",
  functionId: "f1",
  functionName: "hello",
  versionId: "v1",
  version: 1,
  runtime: "node",
  config: functionConfigSchema.parse({ runtime: "node" }),
  sourceDigest: "d",
  artifact: "kumo/fn:x",
  loadCode: async () => "",
  env: {},
  envDigest: "e",
};

const request = (): InvocationRequest => ({
  invocationId: randomUUID(),
  trigger: "http",
  method: "POST",
  url: "/x?y=1",
  headers: { "content-type": "text/plain" },
  body: new TextEncoder().encode("ping"),
  deadline: Date.now() + 30_000,
});

/** A node that offers a link and announces it; `answer` decides what it does with each request. */
async function standInNode(
  namespace: string,
  answer: (m: LinkMessage, reply: (s: string, d: Uint8Array) => void) => void,
) {
  const nodeId = `n-${namespace}`;
  const server = new LinkServer({
    path: join(dir, `${namespace}.sock`),
    namespace,
    nodeId,
    onMessage: answer,
  });
  await server.listen();
  nc.publish(subjects.nodes(namespace), JSON.stringify({ nodeId, link: server.path, every: 2000 }));
  await nc.flush();
  return server;
}

/**
 * Invokes until a call goes over the link (the first ones go to NATS, where no node answers); the
 * call's result, wrapped so that returning it does not wait for it.
 */
async function invokeOverLink(provider: ContainerProvider, seen: () => number) {
  const until = Date.now() + 5000;
  for (;;) {
    const before = seen();
    const pending = provider.invoke(target, request());
    await new Promise((r) => setTimeout(r, 30));
    if (seen() > before) return { pending };
    await pending;
    if (Date.now() > until) throw new Error("no call went over the link");
  }
}

describe("container provider over a node's direct link", () => {
  it("sends the request frame over the link and takes the node's reply from it", async () => {
    const namespace = `t${randomBytes(4).toString("hex")}`;
    const requests: InvokeRequestMeta[] = [];
    // The gateway first, so it hears the node's first heartbeat (a real node repeats it every 2 s).
    const provider = new ContainerProvider({ nc, namespace });
    await nc.flush();
    const server = await standInNode(namespace, (message, reply) => {
      const { meta, payload } = decodeFrame<InvokeRequestMeta>(message.data);
      requests.push(meta);
      const head: InvokeReplyMeta = {
        k: "head",
        status: 201,
        headers: [["content-type", "text/plain"]],
        coldStart: "warm",
        queueMs: 0,
        end: true,
      };
      reply(message.reply, encodeFrame(head, Buffer.concat([Buffer.from("pong:"), payload])));
    });
    try {
      const result = await (await invokeOverLink(provider, () => requests.length)).pending;
      expect(result.status).toBe(201);
      expect(Buffer.from(result.body as Uint8Array).toString()).toBe("pong:ping");
      expect(requests.at(-1)).toMatchObject({ method: "POST", url: "/x?y=1", versionId: "v1" });
    } finally {
      await provider.stop();
      await server.close();
    }
  });

  it("fails what the link carried as soon as the link closes (FN_008), not at the silence limit", async () => {
    const namespace = `t${randomBytes(4).toString("hex")}`;
    let held = 0;
    const provider = new ContainerProvider({ nc, namespace, silenceMs: 60_000 });
    await nc.flush();
    const server = await standInNode(namespace, () => {
      held++;
    });
    try {
      const { pending } = await invokeOverLink(provider, () => held);
      const closedAt = Date.now();
      await server.close();
      const result = await pending;
      expect(result.status).toBeGreaterThanOrEqual(500);
      expect(Buffer.from(result.body as Uint8Array).toString()).toContain("FN_008");
      expect(Date.now() - closedAt).toBeLessThan(2000);
    } finally {
      await provider.stop();
    }
  });
});
