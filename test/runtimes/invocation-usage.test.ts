import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error the runtimes' shared modules are plain ESM without declarations
import { reportUsage, USAGE_HEADER } from "../../runtimes/shared/invocation-usage.mjs";

/** Each way a shim or a handler writes a response head, by path. */
const writers: Record<string, (res: ServerResponse) => void> = {
  "/object": (res) => res.writeHead(201, { "x-a": "1" }).end("o"),
  "/reason": (res) => res.writeHead(202, "Fine", { "x-a": "1" }).end("r"),
  "/flat": (res) => res.writeHead(200, ["x-a", "1", "x-b", "2"]).end("f"),
  "/pairs": (res) => res.writeHead(200, [["x-a", "1"]] as unknown as string[]).end("p"),
  "/none": (res) => res.writeHead(204).end(),
  "/implicit": (res) => {
    res.setHeader("x-a", "1");
    res.end("i");
  },
  "/busy": (res) => {
    const until = performance.now() + 30;
    while (performance.now() < until) {}
    res.writeHead(200, { "x-a": "1" }).end("b");
  },
};

describe("invocation usage (runtimes/shared/invocation-usage.mjs)", () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (url.searchParams.get("report") !== "no") reportUsage(res);
      writers[url.pathname]?.(res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const get = (path: string) =>
    new Promise<{ status: number; message: string; headers: Record<string, unknown> }>((resolve, reject) => {
      request({ port, host: "127.0.0.1", path }, (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, message: res.statusMessage ?? "", headers: res.headers }),
        );
      })
        .on("error", reject)
        .end();
    });

  it.each(Object.keys(writers))(
    "a head written as %s carries kumo-usage and keeps its own headers",
    async (path) => {
      const res = await get(path);
      expect(res.headers[USAGE_HEADER]).toMatch(/^cpu=\d+(\.\d+)?;rss=\d+$/);
      if (path !== "/none") expect(res.headers["x-a"]).toBe("1");
      if (path === "/flat") expect(res.headers["x-b"]).toBe("2");
      if (path === "/reason") expect([res.status, res.message]).toEqual([202, "Fine"]);
    },
  );

  it("the figure is the CPU time spent between the start and the head", async () => {
    const cpu = Number(/cpu=([\d.]+)/.exec(String((await get("/busy")).headers[USAGE_HEADER]))?.[1]);
    expect(cpu).toBeGreaterThanOrEqual(25);
    expect(cpu).toBeLessThan(1000);
  });

  it("a response whose usage is not reported gets no header, on the same class once wrapped", async () => {
    await get("/object");
    const res = await get("/object?report=no");
    expect(res.headers[USAGE_HEADER]).toBeUndefined();
    expect(res.headers["x-a"]).toBe("1");
  });
});
