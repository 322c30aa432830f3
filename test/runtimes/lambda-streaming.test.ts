import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningFunction, RuntimeHarness, SETUP_TIMEOUT_MS } from "./runtime-harness.ts";

interface ImagesModule {
  ensureImages(options: {
    only: string[];
    log?: (line: string) => void;
  }): Promise<{ ok: boolean; images: Record<string, string>; failed: Record<string, string> }>;
}

/**
 * The runtime image of this checkout by its pinned (recipe digest) tag: `:latest` is whatever the
 * last build on this Docker engine made, and another checkout may share the engine.
 */
async function runtimeImage(lang: string): Promise<string> {
  const images = (await import(new URL("../../scripts/images.mjs", import.meta.url).href)) as ImagesModule;
  const result = await images.ensureImages({ only: [lang], log: () => {} });
  const ref = result.images[`runtime-${lang}`];
  if (!result.ok || !ref) throw new Error(`runtime images failed to build: ${JSON.stringify(result.failed)}`);
  return ref;
}

/**
 * Lambda details in the node, bun and deno containers, written from AWS's documentation of the
 * Node.js handler contract: response streaming (`awslambda.streamifyResponse` and
 * `awslambda.HttpResponseStream.from`, a global as in Lambda's Node runtime) and the content type of
 * a result that names none (application/json, as function URLs and HTTP APIs answer).
 */
const code: Record<string, string> = {
  "stream/index.mjs": `
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.rawPath === "/plain") {
    responseStream.setContentType("text/plain");
    responseStream.write("a");
    responseStream.end("b");
    return;
  }
  if (event.rawPath === "/pipeline") {
    const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { "x-kind": "pipeline" } });
    await pipeline(Readable.from(["x", "y", "z"]), out);
    return;
  }
  if (event.rawPath === "/unended") {
    responseStream.write("not ended by the handler");
    return;
  }
  if (event.rawPath === "/throw") throw new Error("stream kaboom");
  const out = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { "Content-Type": "text/event-stream", "X-Request": context.awsRequestId },
    cookies: ["s=1; Path=/"],
  });
  out.write("data: first\\n\\n");
  await new Promise((resolve) => setTimeout(resolve, 1500));
  out.write("data: second\\n\\n");
  out.end();
});
`,
  "results/index.mjs": `
export const handler = async (event) => {
  switch (event.rawPath) {
    case "/object": return { statusCode: 201, body: "created" };
    case "/object-typed": return { statusCode: 200, headers: { "Content-Type": "text/html" }, body: "<p>hi</p>" };
    case "/object-json": return { statusCode: 200, body: { ok: true } };
    case "/string": return "a string";
    case "/empty": return { statusCode: 202 };
    default: return { ok: true };
  }
};
`,
};

interface Timed {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  chunks: { at: number; text: string }[];
  endedAt: number;
}

/** One request over the socket, recording when each chunk of the body arrives. */
function timedRequest(fn: RunningFunction, path: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath: fn.socketPath,
        path,
        method: "GET",
        headers: { "kumo-invocation-id": `inv${path.replace(/\//g, "-")}` },
      },
      (res) => {
        const chunks: Timed["chunks"] = [];
        res.on("data", (chunk: Buffer) =>
          chunks.push({ at: performance.now(), text: chunk.toString("utf8") }),
        );
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks, endedAt: performance.now() }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`timeout: ${path}`)));
    req.end();
  });
}

const body = (t: Timed) => t.chunks.map((c) => c.text).join("");

for (const lang of ["node", "bun", "deno"] as const) {
  describe(`lambda details - ${lang}`, () => {
    const harness = new RuntimeHarness();
    let stream: RunningFunction;
    let results: RunningFunction;

    beforeAll(async () => {
      const image = await runtimeImage(lang);
      const codeMount = harness.writeCode(code);
      [stream, results] = (await Promise.all(
        ["stream", "results"].map(async (dir) => {
          const cell = await harness.start(image, { codeMount });
          const init = await cell.request({
            method: "POST",
            path: "/init",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ codeDir: `/code/${dir}`, handler: "index", env: {} }),
          });
          expect([dir, init.status, init.body.toString()]).toEqual([
            dir,
            200,
            '{"state":"ready","kind":"lambda"}',
          ]);
          return cell;
        }),
      )) as [RunningFunction, RunningFunction];
    }, SETUP_TIMEOUT_MS);
    afterAll(() => harness.cleanup());

    it("streaming - HttpResponseStream.from sets status, headers and cookies; the first chunk arrives before the handler ends", async () => {
      const res = await timedRequest(stream, "/invoke/events");
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("text/event-stream");
      expect(res.headers["x-request"]).toBe("inv-invoke-events");
      expect(res.headers["set-cookie"]).toEqual(["s=1; Path=/"]);
      expect(body(res)).toBe("data: first\n\ndata: second\n\n");
      const first = res.chunks[0];
      expect(first?.text).toBe("data: first\n\n");
      // The handler waits 1.5 s between its writes: the first one was not held back until the end.
      expect(res.endedAt - (first?.at ?? res.endedAt)).toBeGreaterThan(1000);
    });

    it("streaming - pipeline() into the stream, setContentType, an unended stream is ended, a throw is FN_004", async () => {
      const piped = await timedRequest(stream, "/invoke/pipeline");
      expect([piped.status, piped.headers["x-kind"], body(piped)]).toEqual([201, "pipeline", "xyz"]);
      expect(piped.headers["content-type"]).toBe("application/octet-stream");
      const plain = await timedRequest(stream, "/invoke/plain");
      expect([plain.status, plain.headers["content-type"], body(plain)]).toEqual([200, "text/plain", "ab"]);
      const unended = await timedRequest(stream, "/invoke/unended");
      expect([unended.status, body(unended)]).toEqual([200, "not ended by the handler"]);
      const thrown = await stream.request({ path: "/invoke/throw" });
      expect([thrown.status, thrown.headers["kumo-error"]]).toEqual([500, "FN_004"]);
      expect((thrown.json() as { message: string }).message).toBe("stream kaboom");
    });

    it("results - a result without a content type is application/json, as on Lambda; a set one is kept", async () => {
      const object = await results.request({ path: "/invoke/object" });
      expect([object.status, object.headers["content-type"], object.body.toString()]).toEqual([
        201,
        "application/json",
        "created",
      ]);
      const typed = await results.request({ path: "/invoke/object-typed" });
      expect(typed.headers["content-type"]).toBe("text/html");
      const json = await results.request({ path: "/invoke/object-json" });
      expect([json.headers["content-type"], json.body.toString()]).toEqual([
        "application/json",
        '{"ok":true}',
      ]);
      const text = await results.request({ path: "/invoke/string" });
      expect([text.status, text.headers["content-type"], text.body.toString()]).toEqual([
        200,
        "application/json",
        "a string",
      ]);
      const empty = await results.request({ path: "/invoke/empty" });
      expect([empty.status, empty.headers["content-type"], empty.body.length]).toEqual([202, undefined, 0]);
    });
  });
}
