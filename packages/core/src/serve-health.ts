import { createServer, type Server } from "node:http";

export interface ServeHealthOptions {
  host: string;
  port: number;
  /** Named dependency checks; /readyz is 200 only while all pass. */
  checks: () => Promise<Record<string, boolean>>;
  /** What /metrics serves: a prom-client Registry fits as it is. */
  metrics: { readonly contentType: string; metrics(): Promise<string> };
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/** Turns a probe (a ping, a query) into a readiness check: true when it settles without error. */
export function succeeds(probe: Promise<unknown>): Promise<boolean> {
  return probe.then(
    () => true,
    () => false,
  );
}

/** /healthz, /readyz and /metrics for services that have no HTTP API of their own. */
export async function serveHealth(options: ServeHealthOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    if (path === "/healthz") return reply(200, "application/json", '{"status":"ok"}');
    if (path === "/readyz") {
      options
        .checks()
        .then((checks) => {
          const ready = Object.values(checks).every(Boolean);
          reply(
            ready ? 200 : 503,
            "application/json",
            JSON.stringify({ status: ready ? "ready" : "not ready", checks }),
          );
        })
        .catch((error) =>
          reply(503, "application/json", JSON.stringify({ status: "not ready", error: String(error) })),
        );
      return;
    }
    if (path === "/metrics") {
      options.metrics
        .metrics()
        .then((body) => reply(200, options.metrics.contentType, body))
        .catch((error) => reply(500, "text/plain", String(error)));
      return;
    }
    reply(
      404,
      "application/json",
      JSON.stringify({ error: { code: "FN_001", message: `no route ${path}` } }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    url: `http://${options.host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
