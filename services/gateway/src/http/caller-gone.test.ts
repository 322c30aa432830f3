import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { CallerSignal } from "@kumo/core";
import type { FastifyReply } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { callerGone } from "./caller-gone.ts";

let server: http.Server | undefined;
afterEach(() => server?.close());

/** A server whose handler watches its response with callerGone and answers when `answer` is called. */
async function serve(): Promise<{
  port: number;
  watched: Promise<{ signal: CallerSignal; answer: () => void }>;
}> {
  let handed: (value: { signal: CallerSignal; answer: () => void }) => void = () => {};
  const watched = new Promise<{ signal: CallerSignal; answer: () => void }>((resolve) => {
    handed = resolve;
  });
  server = http.createServer((_req, res) => {
    handed({ signal: callerGone({ raw: res } as FastifyReply), answer: () => res.end("done") });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, watched };
}

describe("callerGone", () => {
  it("aborts, once, when the client closes before the answer was written", async () => {
    const { port, watched } = await serve();
    const req = http.get({ port, host: "127.0.0.1" });
    req.on("error", () => {});
    const { signal } = await watched;
    const calls: string[] = [];
    const removed = () => calls.push("removed");
    signal.addEventListener("abort", () => calls.push("first"), { once: true });
    signal.addEventListener("abort", removed);
    signal.addEventListener("abort", () => calls.push("second"));
    signal.removeEventListener("abort", removed);
    expect(signal.aborted).toBe(false);
    expect(() => signal.throwIfAborted()).not.toThrow();
    req.destroy();
    await new Promise((resolve) => signal.addEventListener("abort", () => resolve(undefined)));
    expect(signal.aborted).toBe(true);
    expect(calls).toEqual(["first", "second"]);
    expect(() => signal.throwIfAborted()).toThrow(expect.objectContaining({ name: "AbortError" }));
  });

  it("does not abort when the answer was written, even as the connection closes after it", async () => {
    const { port, watched } = await serve();
    const req = http.get({ port, host: "127.0.0.1", agent: false });
    const { signal, answer } = await watched;
    let aborted = false;
    signal.addEventListener("abort", () => {
      aborted = true;
    });
    answer();
    const [res] = (await once(req, "response")) as [http.IncomingMessage];
    res.resume();
    await once(res, "end");
    req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(aborted).toBe(false);
    expect(signal.aborted).toBe(false);
  });
});
