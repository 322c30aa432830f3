import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShimClient, ShimSocketError } from "./shim-client.ts";

// A stand-in shim on a unix socket owned by this test's user, as a container's would be by its own.
const dir = mkdtempSync(join(tmpdir(), "kumo-shim-client-"));
const socketPath = join(dir, "rt.sock");
const BIG = Buffer.alloc(4 * 1024 * 1024, 7);
let server: Server;
let seen: { method: string; url: string; headers: Record<string, unknown>; bytes: number }[] = [];

const client = (maxSockets = 4) =>
  new ShimClient({ socketPath, ownerUid: process.getuid?.() ?? 0, maxSockets });

beforeAll(async () => {
  server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.byteLength;
    });
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, bytes });
      if (req.url === "/big") {
        res.writeHead(200, { "content-length": String(BIG.byteLength) });
        res.end(BIG);
      } else if (req.url === "/hang") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.write("partial");
      } else if (req.url === "/healthz") {
        res.end("ok");
      } else {
        res.writeHead(201, [
          ["Set-Cookie", "a=1"],
          ["Set-Cookie", "b=2"],
          ["Content-Type", "text/plain"],
        ]);
        res.end(`${req.method} ${req.url} ${bytes}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe("autoscaler - shim client", () => {
  it("shim client - a call: status, raw headers in order, body, and the hop's own headers left out", async () => {
    seen = [];
    const shim = client();
    expect(shim.pin()).toBe(true);
    const res = await shim.call({
      method: "POST",
      path: "/invoke/x?y=1",
      headers: {
        "content-length": "5",
        "x-forwarded-for": "10.0.0.1",
        connection: "close",
        expect: "100-continue",
      },
      body: Buffer.from("hello"),
    });
    expect(res.statusCode).toBe(201);
    expect(res.rawHeaders.filter((_, i) => i % 2 === 0).slice(0, 3)).toEqual([
      "Set-Cookie",
      "Set-Cookie",
      "Content-Type",
    ]);
    expect(res.header("content-type")).toBe("text/plain");
    expect(res.header("x-missing")).toBeUndefined();
    expect((await ShimClient.read(res)).toString()).toBe("POST /invoke/x?y=1 5");
    expect(res.complete).toBe(true);
    expect(seen[0]?.headers).toMatchObject({ "x-forwarded-for": "10.0.0.1" });
    expect(seen[0]?.headers.expect).toBeUndefined();
    shim.close();
  });

  it("shim client - a reader that lags behind pauses the connection and gets every byte once it reads", async () => {
    const shim = client();
    shim.pin();
    const res = await shim.call({ method: "GET", path: "/big", headers: {}, body: null });
    // Nothing reads for a while: the body waits (paused) instead of being lost or failing.
    await new Promise((r) => setTimeout(r, 200));
    const body = await ShimClient.read(res);
    expect(body.byteLength).toBe(BIG.byteLength);
    expect(body.equals(BIG)).toBe(true);
    // The connection is usable afterwards.
    const next = await shim.call({ method: "GET", path: "/again", headers: {}, body: null });
    expect((await ShimClient.read(next)).toString()).toBe("GET /again 0");
    shim.close();
  });

  it("shim client - a streamed request body arrives whole", async () => {
    seen = [];
    const shim = client();
    shim.pin();
    async function* chunks() {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(100_000, i);
    }
    const res = await shim.call({
      method: "PUT",
      path: "/stream",
      headers: { "content-length": "500000" },
      body: chunks(),
    });
    expect((await ShimClient.read(res)).toString()).toBe("PUT /stream 500000");
    shim.close();
  });

  it("shim client - aborting a call fails its response with the abort's reason, and the client goes on", async () => {
    const shim = client(1);
    shim.pin();
    const res = await shim.call({ method: "GET", path: "/hang", headers: {}, body: null });
    const reading = ShimClient.read(res);
    res.destroy(new Error("the invocation's deadline passed"));
    await expect(reading).rejects.toThrow();
    let abort: ((error: Error) => void) | undefined;
    const hanging = shim.call({
      method: "GET",
      path: "/hang",
      headers: {},
      body: null,
      onRequest: (a) => {
        abort = a;
      },
    });
    const cut = await hanging;
    const cutRead = ShimClient.read(cut);
    abort?.(new Error("the caller went away"));
    await expect(cutRead).rejects.toThrow(/the caller went away/);
    // One connection only, and it was given up with the aborted calls: a new one serves the next.
    const ok = await shim.call({ method: "GET", path: "/after", headers: {}, body: null });
    expect((await ShimClient.read(ok)).toString()).toBe("GET /after 0");
    expect(await shim.healthy(1000)).toBe(true);
    shim.close();
  });

  it("shim client - a symbolic link where the socket should be is refused, never followed", () => {
    const linkDir = mkdtempSync(join(tmpdir(), "kumo-shim-link-"));
    try {
      symlinkSync(socketPath, join(linkDir, "rt.sock"));
      const shim = new ShimClient({
        socketPath: join(linkDir, "rt.sock"),
        ownerUid: process.getuid?.() ?? 0,
        maxSockets: 1,
      });
      expect(() => shim.pin()).toThrow(ShimSocketError);
      return expect(shim.call({ method: "GET", path: "/", headers: {}, body: null })).rejects.toThrow(
        /not been checked/,
      );
    } finally {
      rmSync(linkDir, { recursive: true, force: true });
    }
  });
});
