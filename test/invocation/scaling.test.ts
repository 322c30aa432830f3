import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SETUP_TIMEOUT_MS } from "../runtimes/runtime-harness.ts";
import { Plane, waitFor } from "./plane.ts";

/** Also reports the memory limit its container's cgroup holds (v1 or v2), as the kernel enforces it. */
const JS = `import { readFileSync } from "node:fs";
const memoryLimit = () => {
  for (const file of ["/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"]) {
    try { return Number(readFileSync(file, "utf8").trim()) / 1048576; } catch {}
  }
  return null;
};
export default {
  async fetch(request, env) {
    const text = await request.text();
    return new Response(JSON.stringify({ echo: text, greeting: env.GREETING ?? null, secret: env.API_TOKEN ?? null, host: env.HOSTNAME ?? null, memoryLimitMb: memoryLimit() }), {
      headers: { "content-type": "application/json" },
    });
  },
};
`;
/** Reports when it ran, so a test can see whether two runs overlapped. */
const SLOW = `export default {
  async fetch() {
    const start = Date.now();
    await new Promise((r) => setTimeout(r, 150));
    return Response.json({ start, end: Date.now() });
  },
};
`;
const PY = `import json, os
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"echo": event.get("body"), "lang": "python"})}
`;
const GO_FILES = {
  "go.mod": "module example.com/hello\n\ngo 1.23\n",
  "handler.go": `package function

import (
	"io"
	"net/http"
)

func Handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("content-type", "text/plain")
	w.Write(append([]byte("go:"), body...))
}
`,
  Dockerfile: `FROM kumo/runtime-go-build:latest AS build
LABEL dev.kumo.test=1
COPY . /src
RUN ["kumo-go-build", "-src", "/src", "-out", "/out/function"]
FROM kumo/runtime-go:latest
COPY --from=build /out/function /var/task/function
ENV KUMO_CODE_DIR=/var/task
`,
};

let plane: Plane;

beforeAll(async () => {
  plane = await new Plane({
    langs: ["node", "bun", "deno", "python", "go"],
    autoscalers: 2,
    autoscalerEnv: { KUMO_STEM_CELLS: "node:1", KUMO_PAUSE_AFTER: "400ms" },
  }).start();
  const secret = await plane.gw.call("PUT", "/v1/secrets/API_TOKEN", {
    key: plane.tenant.key,
    body: { value: "s3cret" },
  });
  if (secret.status >= 300) throw new Error(`secret: ${secret.body}`);
  await Promise.all([
    plane.deploy("js-bun", "bun", { "index.mjs": JS }),
    plane.deploy("js-deno", "deno", { "index.mjs": JS }),
    plane.deploy("py", "python", { "main.py": PY }, {}, "main.handler"),
    plane.deploy("gofn", "go", GO_FILES),
    plane.deploy(
      "zero",
      "node",
      { "index.mjs": JS },
      {
        env: { GREETING: "hey" },
        secrets: ["API_TOKEN"],
        scaling: { idleTtlMs: "1s" },
        memoryMb: 96,
      },
    ),
    plane.deploy("shared", "node", { "index.mjs": JS }, { scaling: { concurrency: 1, maxInstances: 4 } }),
    plane.deploy(
      "single",
      "node",
      { "index.mjs": SLOW },
      { scaling: { concurrency: 1, maxConcurrency: 1, maxInstances: 2 } },
    ),
  ]);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await plane?.close();
}, SETUP_TIMEOUT_MS);

describe("invocation plane - runtimes and scaling", () => {
  it.each([
    ["js-bun", (b: string) => JSON.parse(b).echo],
    ["js-deno", (b: string) => JSON.parse(b).echo],
    ["py", (b: string) => JSON.parse(b).echo],
    ["gofn", (b: string) => b.replace(/^go:/, "")],
  ])("runtimes - %s answers a sync invocation through the gateway", async (name, read) => {
    const res = await plane.invoke(name, { body: "ping", headers: { "content-type": "text/plain" } });
    expect(res.status, res.body).toBe(200);
    expect(read(res.body)).toBe("ping");
  });

  it("stem cells - scale from zero specializes a pre-started cell with the version's code, env and secrets", async () => {
    await waitFor("a ready stem cell on each node", async () => {
      const counts = plane.nodes.map((n) => n.autoscaler.status().stemCells.node ?? 0);
      return counts.every((c) => c >= 1) || undefined;
    });
    const first = await plane.invoke("zero", { body: "a" });
    expect(first.status, first.body).toBe(200);
    expect(first.headers["kumo-cold-start"]).toBe("stem-cell");
    // memoryLimitMb: the function's limit, written to the cell's cgroup (not through the Docker API)
    // when it took on the version; the cell itself started with 512 MB.
    expect(first.json).toMatchObject({ echo: "a", greeting: "hey", secret: "s3cret", memoryLimitMb: 96 });
    // The function runs in a container started from the generic runtime image.
    const cells = await plane.containers({ "dev.kumo.role": "stem-cell" });
    expect(cells.length).toBeGreaterThan(0);
  });

  it("scaling - an idle version is paused, then scaled to zero after its idle TTL, and comes back on demand", async () => {
    const versionId = await latestVersionId("zero");
    await plane.invoke("zero", { body: "b" });
    expect(pools(versionId).some((p) => p.instances > 0)).toBe(true);
    await waitFor(
      "a paused instance",
      async () => pools(versionId).some((p) => p.paused > 0) || undefined,
      5000,
    );
    await waitFor("scale to zero", async () => pools(versionId).every((p) => p.instances === 0) || undefined);
    const back = await plane.invoke("zero", { body: "c" });
    expect(back.status).toBe(200);
    expect(["stem-cell", "cold"]).toContain(back.headers["kumo-cold-start"]);
    expect(back.json.echo).toBe("c");
  });

  it("scaling - a paused warm container is unpaused instead of starting a new one", async () => {
    const versionId = await latestVersionId("shared");
    await plane.invoke("shared", { body: "warm" });
    await waitFor(
      "a paused instance",
      async () => pools(versionId).some((p) => p.paused > 0) || undefined,
      5000,
    );
    const kinds: unknown[] = [];
    // Either node may take a request: the one holding the paused instance answers "unpaused". The
    // other starts one of its own (a stem cell) the first time; waiting past KUMO_PAUSE_AFTER between
    // requests lets every instance pause again, so whichever node answers next unpauses one.
    for (let i = 0; i < 6 && !kinds.includes("unpaused"); i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 700));
      kinds.push((await plane.invoke("shared", { body: "x" })).headers["kumo-cold-start"]);
    }
    expect(kinds).toContain("unpaused");
  });

  it("scaling - two autoscaler nodes in one queue group share the load, scaling up on in-flight demand", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => plane.invoke("shared", { body: `r${i}` })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    const nodesServing = plane.nodes.filter((n) => n.autoscaler.status().pools.some((p) => p.instances > 0));
    expect(nodesServing.length).toBe(2);
    const total = plane.nodes
      .flatMap((n) => n.autoscaler.status().pools)
      .reduce((s, p) => s + p.instances, 0);
    expect(total).toBeGreaterThan(2);
  });
});

describe("invocation plane - cluster-wide limits", () => {
  it("scaling - maxConcurrency holds across nodes: with a limit of 1 and two nodes, runs never overlap", async () => {
    const runs = await Promise.all(
      Array.from({ length: 5 }, () => plane.invoke("single", { method: "GET" })),
    );
    for (const r of runs) expect(r.status, r.body).toBe(200);
    const spans = runs.map((r) => r.json as { start: number; end: number }).sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]?.start, "a run started before the previous one ended").toBeGreaterThanOrEqual(
        spans[i - 1]?.end ?? 0,
      );
    // One node holds the limit; the other handed its requests over instead of starting instances.
    const versionId = await latestVersionId("single");
    expect(pools(versionId).reduce((sum, p) => sum + p.instances, 0)).toBe(1);
  });

  it("scaling - async invocations keep the cluster-wide limit too, each succeeding on its first attempt", async () => {
    const queued = await Promise.all(Array.from({ length: 4 }, () => plane.invokeAsync("single", {})));
    for (const r of queued) expect(r.status, r.body).toBe(202);
    const records = await Promise.all(
      queued.map((r) =>
        waitFor("an async run", async () => {
          const got = await plane.gw.call("GET", `/v1/invocations/${r.json.invocationId}`, {
            key: plane.tenant.key,
          });
          return got.json?.status === "succeeded" ? got.json : undefined;
        }),
      ),
    );
    expect(records.map((r) => r.attempts)).toEqual([1, 1, 1, 1]);
    const spans = records
      .map((r) => JSON.parse(r.result.body) as { start: number; end: number })
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]?.start).toBeGreaterThanOrEqual(spans[i - 1]?.end ?? 0);
  });
});

async function latestVersionId(name: string): Promise<string> {
  const store = plane.gw.gateway.context.platform.tenant(plane.tenant.id);
  const fn = await store.functions.byName(name);
  const version = fn ? await store.versions.latest(fn.id) : undefined;
  if (!version) throw new Error(`no version of ${name}`);
  return version.id;
}

function pools(versionId: string) {
  return plane.nodes.flatMap((n) => n.autoscaler.status().pools).filter((p) => p.versionId === versionId);
}
