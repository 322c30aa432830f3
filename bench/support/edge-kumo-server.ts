/**
 * The Kumo side of bench/edge.bench.ts: a minimal HTTP server that hands each request to the edge
 * provider (parse, invoke, write), so the figure is the isolate path, not the gateway. Prints its
 * port on stdout once listening. Usage: node --import tsx bench/support/edge-kumo-server.ts [hosts]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { edgeTarget } from "../../runtimes/edge/src/edge-test-kit.ts";
import { createEdgeProvider } from "../../runtimes/edge/src/index.ts";
import { HELLO_WORKER } from "./edge-hello.ts";

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
