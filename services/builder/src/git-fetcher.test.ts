import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GitHttpServer, loopbackGitUrls, serveGitHttp } from "../../../test/support/git-http-server.ts";
import { GitFetcher } from "./git-fetcher.ts";

// Only 127.0.0.1 is ever contacted: a git server of the test's own. Public addresses appear only as
// resolver answers of refused hosts, never connected to.
let repo: GitHttpServer;

beforeAll(async () => {
  repo = await serveGitHttp({ "index.mjs": "export default { fetch() { return new Response('hi'); } };\n" });
});

afterAll(async () => {
  await repo?.close();
});

const fetcher = (allowPrivate: boolean, resolve?: (host: string) => Promise<string[]>) =>
  new GitFetcher({ allowFile: false, allowPrivate, timeoutMs: 20_000, ...(resolve ? { resolve } : {}) });

async function failure(
  git: GitFetcher,
  url: string,
  ref: string,
): Promise<{ code?: string; message: string }> {
  return git.fetch(url, ref, AbortSignal.timeout(20_000)).then(
    () => ({ message: "fetched" }),
    (e: unknown) => e as { code?: string; message: string },
  );
}

describe("git fetcher", () => {
  it("git fetcher - by default every spelling of a loopback git server is refused before any request, with one message", async () => {
    const git = fetcher(false);
    const { port } = repo;
    const messages = new Set<string>();
    for (const url of [
      ...loopbackGitUrls(port),
      `http://[::1]:${port}/repo.git`,
      `https://127.0.0.1:${port}/repo.git`,
    ]) {
      const error = await failure(git, url, "main");
      expect(error.code, url).toBe("FN_006");
      // Past the URL (as parsed: 127.1 is 127.0.0.1), every refusal reads the same.
      messages.add(error.message.replace(/^could not fetch \S+ /, ""));
    }
    expect([...messages]).toHaveLength(1);
    expect([...messages][0]).toMatch(/^at "main": /);
    expect(repo.requests).toEqual([]);
  });

  it("git fetcher - a host with any private address among its answers is refused", async () => {
    const git = fetcher(false, async () => ["93.184.216.34", "127.0.0.1"]);
    const error = await failure(git, `http://git.kumo.invalid:${repo.port}/repo.git`, "");
    expect(error).toMatchObject({ code: "FN_006", message: expect.stringMatching(/^could not fetch /) });
    expect(repo.requests).toEqual([]);
  });

  it("git fetcher - with allowPrivate a loopback server is fetched, through the address that was resolved", async () => {
    // curl cannot resolve git.kumo.invalid itself: the fetch works only through the pinned address.
    const git = fetcher(true, async () => ["127.0.0.1"]);
    const url = `http://git.kumo.invalid:${repo.port}/repo.git`;
    const { tar, commit } = await git.fetch(url, "main", AbortSignal.timeout(20_000));
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(tar.includes(Buffer.from("index.mjs"))).toBe(true);
    expect(repo.requests.length).toBeGreaterThan(0);
  });

  it("git fetcher - a closed port, a server that is not git, a missing ref and a redirect fail alike", async () => {
    const git = fetcher(true);
    const web = createServer((req, res) => {
      if (req.url?.startsWith("/moved/")) res.writeHead(301, { location: repo.url }).end();
      else res.writeHead(200, { "content-type": "text/html" }).end("<h1>not git</h1>");
    });
    await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
    const webPort = (web.address() as AddressInfo).port;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    try {
      const messages = new Set<string>();
      for (const url of [
        `http://127.0.0.1:${closedPort}/repo.git`,
        `http://127.0.0.1:${webPort}/repo.git`,
        `http://127.0.0.1:${webPort}/moved/repo.git`,
        `${repo.url}#nope`,
      ]) {
        const error = await failure(git, url.replace("#nope", ""), url.endsWith("#nope") ? "nope" : "main");
        expect(error.code, url).toBe("FN_006");
        messages.add(error.message.replace(/^could not fetch \S+ at "\w+": /, ""));
      }
      expect([...messages]).toHaveLength(1);
    } finally {
      web.closeAllConnections();
      await new Promise((resolve) => web.close(resolve));
    }
  });
});
