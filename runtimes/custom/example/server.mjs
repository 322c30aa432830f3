// A custom-image function: any HTTP/1.1 server that listens on the unix socket $KUMO_SOCKET and
// answers GET /healthz and ANY /invoke/... (see runtimes/custom/README.md). No Kumo shim involved.
import { rmSync } from "node:fs";
import { createServer } from "node:http";

const socketPath = process.env.KUMO_SOCKET || "/run/kumo/rt.sock";

const server = createServer((req, res) => {
  if (req.url === "/healthz") return res.writeHead(200).end("ok");
  if (!req.url?.startsWith("/invoke")) return res.writeHead(404).end();
  const invocationId = req.headers["kumo-invocation-id"] ?? null;
  // Logs: one JSON line per message on stdout, as the platform expects from every runtime.
  process.stdout.write(
    `${JSON.stringify({ ts: Date.now(), level: "info", invocationId, message: `custom ${req.url}` })}\n`,
  );
  res
    .writeHead(200, { "content-type": "text/plain" })
    .end(`custom image says hi to ${req.url.slice(7) || "/"}`);
});

rmSync(socketPath, { force: true });
server.listen(socketPath);
process.on("SIGTERM", () => {
  server.close();
  rmSync(socketPath, { force: true });
  process.exit(0);
});
