import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A smart-HTTP git server on 127.0.0.1 (`git http-backend` as CGI) serving one repository. */
export interface GitHttpServer {
  /** http://127.0.0.1:<port>/repo.git */
  url: string;
  port: number;
  /** Every request it answered ("GET /repo.git/info/refs?service=git-upload-pack"). */
  requests: string[];
  close(): Promise<void>;
}

/** Commits `files` on main into a bare repo.git and serves it; the caller closes it. */
export async function serveGitHttp(files: Record<string, string>): Promise<GitHttpServer> {
  const root = mkdtempSync(join(tmpdir(), "kumo-git-http-"));
  const work = join(root, "work");
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(work, path)), { recursive: true });
    writeFileSync(join(work, path), content);
  }
  const git = (...args: string[]) => run("git", args, { cwd: work });
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("-c", "user.name=t", "-c", "user.email=t@kumo.invalid", "commit", "-qm", "source");
  await run("git", ["clone", "-q", "--bare", work, join(root, "repo.git")]);

  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
        GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headDone = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split("\r\n")) {
        const at = line.indexOf(":");
        const name = line.slice(0, at).trim();
        const value = line.slice(at + 1).trim();
        if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => {
      if (!headDone) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/repo.git`,
    port,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Every way of writing "this machine" that a git source was seen to get through with (issue 10.2):
 * names, short and numeric IPv4 forms, IPv4-mapped IPv6.
 */
export function loopbackGitUrls(port: number): string[] {
  return [
    `http://127.0.0.1:${port}/repo.git`,
    `http://localhost:${port}/repo.git`,
    `http://127.1:${port}/repo.git`,
    `http://0x7f000001:${port}/repo.git`,
    `http://2130706433:${port}/repo.git`,
    `http://[::ffff:127.0.0.1]:${port}/repo.git`,
  ];
}
