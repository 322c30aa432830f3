/**
 * The Kumo side of bench/edge.bench.ts: a minimal HTTP server that hands each request to the edge
 * provider (parse, invoke, write), so the figure is the isolate path, not the gateway. Prints its
 * port on stdout once listening. Usage: node --import tsx bench/support/edge-kumo-server.ts [hosts]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { HELLO_WORKER } from "./edge-hello.ts";

// KUMO_EDGE_SRC points at another copy of runtimes/edge/src, to compare variants in one run.
const src = process.env.KUMO_EDGE_SRC ?? "../../runtimes/edge/src";
const { createEdgeProvider } = (await import(
  `${src}/index.ts`
)) as typeof import("../../runtimes/edge/src/index.ts");
const { edgeTarget } = (await import(
  `${src}/edge-test-kit.ts`
)) as typeof import("../../runtimes/edge/src/edge-test-kit.ts");
const hosts = Number(process.argv[2] ?? "1");
const provider = await createEdgeProvider({ hosts });
const target = await edgeTarget(HELLO_WORKER, { functionName: "hello" });
let seq = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
    provider
      .invoke(target, {
        invocationId: `b${++seq}`,
        trigger: "http",
        method: req.method ?? "GET",
        url: req.url ?? "/",
        headers,
        body: chunks.length ? Buffer.concat(chunks) : null,
        deadline: Date.now() + 10_000,
      })
      .then(
        (result) => {
          res.writeHead(result.status, result.headers.flat());
          res.end(result.body instanceof Uint8Array ? result.body : undefined);
        },
        () => {
          res.writeHead(500).end();
        },
      );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`PORT ${(server.address() as AddressInfo).port}`);
});
process.on("SIGTERM", () => {
  server.close();
  provider.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
