/**
 * A custom image whose own server answers with the status and headers the query asks for: no shim
 * stands between it and the platform.
 */
const SERVER = `import { rmSync } from "node:fs";
import { createServer } from "node:http";
const socketPath = process.env.KUMO_SOCKET || "/run/kumo/rt.sock";
const server = createServer((req, res) => {
  if (req.url === "/healthz") return res.writeHead(200).end("ok");
  const q = new URL(req.url, "http://fn").searchParams;
  const headers = {};
  for (let i = 0; i < Number(q.get("headers") ?? 0); i++) headers["x-" + i] = "v";
  if (q.has("big")) headers["x-big"] = "a".repeat(10 * 1024 * 1024);
  res.writeHead(Number(q.get("status") ?? 200), headers).end("raw");
});
rmSync(socketPath, { force: true });
server.listen(socketPath);
`;
export const RAW_IMAGE_FILES = {
  Dockerfile: `FROM kumo/runtime-node:latest
COPY server.mjs /app/server.mjs
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/node", "/app/server.mjs"]
`,
  "server.mjs": SERVER,
};
