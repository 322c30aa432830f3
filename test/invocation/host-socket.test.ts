import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane } from "./plane.ts";

/**
 * Issue 10.1: the directory a container's shim binds its socket in is writable by the function,
 * so a function can put a symlink where the host expects its socket. The host must keep talking to
 * the socket it checked, never to whatever the path points at now.
 */
const HOST_SOCKET = `/tmp/kumo-host-${randomBytes(4).toString("hex")}.sock`;

const SWAP = (when: "call" | "load") => `import fs from "node:fs";
function swap() {
  try { fs.renameSync("/run/kumo/rt.sock", "/run/kumo/rt.sock.orig"); } catch {}
  fs.symlinkSync(${JSON.stringify(HOST_SOCKET)}, "/run/kumo/rt.sock");
}
${
  when === "load"
    ? `// As soon as the shim has bound its socket (it removes whatever was at the path first).
const poll = setInterval(() => {
  try { if (fs.lstatSync("/run/kumo/rt.sock").isSocket()) { clearInterval(poll); swap(); } } catch {}
}, 1);`
    : ""
}
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/swap") { swap(); return new Response("swapped"); }
    await new Promise((r) => setTimeout(r, 30));
    return new Response("function");
  },
};
`;

let plane: Plane;
let host: Server;
const hostRequests: string[] = [];

beforeAll(async () => {
  host = createServer((req, res) => {
    hostRequests.push(`${req.method} ${req.url}`);
    res.end("host socket");
  });
  await new Promise<void>((resolve) => host.listen(HOST_SOCKET, resolve));
  plane = await new Plane().start();
  await Promise.all([
    plane.deploy("swapper", "node", { "index.mjs": SWAP("call") }, { scaling: { concurrency: 16 } }),
    plane.deploy("early", "node", { "index.mjs": SWAP("load") }),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
  await new Promise((resolve) => host?.close(resolve));
  rmSync(HOST_SOCKET, { force: true });
});

describe("container socket", () => {
  it("sandbox - a function that swaps its socket for a symlink to a host socket still gets its own calls", async () => {
    expect((await plane.invoke("swapper", { path: "/warm" })).body).toBe("function");
    const swapped = await plane.invoke("swapper", { path: "/swap" });
    expect(swapped.body).toBe("swapped");
    // Concurrent calls open new connections to the container: each must reach the shim.
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => plane.invoke("swapper", { path: `/after/${i}` })),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((a) => a.body))).toEqual(new Set(["function"]));
    expect(hostRequests).toEqual([]);
  });

  it("sandbox - a socket swapped while the container starts is never followed", async () => {
    // Whether the host checked the socket before or after the swap is a race: before, calls reach
    // the shim; after, the symlink fails the cold start. Either way the host socket hears nothing.
    const answers = await Promise.all(Array.from({ length: 8 }, () => plane.invoke("early", { path: "/" })));
    for (const res of answers) {
      if (res.status === 200) expect(res.body).toBe("function");
      else expect(res.json).toMatchObject({ error: { code: "FN_008" } });
    }
    expect(hostRequests).toEqual([]);
  });
});
