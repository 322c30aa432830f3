import type { KumoError } from "@kumo/core";
import { describe, expect, it } from "vitest";
import { bundleEdgeFunction } from "./bundle-edge-function.ts";
import { edgeTarget, invokeEdge } from "./edge-test-kit.ts";
import { edgeProviderForFile, ROOMY } from "./edge-test-provider.ts";

const edge = edgeProviderForFile();

/** (event, context) reads as OpenFaaS when detected; as a web handler it gets a Request. */
const AMBIGUOUS = `export default async function (event: any, context: any) {
  if (event instanceof Request) return new Response("web:" + new URL(event.url).pathname);
  return context.status(200).succeed("openfaas:" + event.path);
}`;

describe("edge handlerShape", () => {
  it("shape - without handlerShape the module is detected (OpenFaaS); with it, edge runs the declared shape", async () => {
    const detected = await invokeEdge(edge.current, await edgeTarget(AMBIGUOUS, { config: ROOMY }), {
      url: "/p",
    });
    expect(detected.text).toBe("openfaas:/p");
    const declared = await invokeEdge(
      edge.current,
      await edgeTarget(AMBIGUOUS, { config: { ...ROOMY, handlerShape: "web" } }),
      { url: "/p" },
    );
    expect(declared.status).toBe(200);
    expect(declared.text).toBe("web:/p");
  });

  it("shape - a declared lambda shape calls the named handler with an API Gateway event", async () => {
    const target = await edgeTarget(
      `export async function handler(req: any) { return { statusCode: 201, body: "lambda:" + req.rawPath }; }`,
      { config: { ...ROOMY, handlerShape: "lambda" } },
    );
    const res = await invokeEdge(edge.current, target, { url: "/x" });
    expect([res.status, res.text]).toEqual([201, "lambda:/x"]);
  });

  it("shape - a declared shape the module lacks fails with FN_005 naming it", async () => {
    const target = await edgeTarget(`export default { fetch: () => new Response("w") };`, {
      config: { ...ROOMY, handlerShape: "knative" },
    });
    const res = await invokeEdge(edge.current, target);
    expect(res.result.error?.code).toBe("FN_005");
    expect(res.result.error?.message).toContain('handlerShape "knative"');
  });

  it("deploy - a container-only shape on edge is FN_005 naming the edge shapes", async () => {
    for (const shape of ["node-http", "node-app", "wsgi"]) {
      const error = (await bundleEdgeFunction(
        { "index.ts": `export default (req: any, res: any) => res.end("x");` },
        { handlerShape: shape },
      ).catch((e: unknown) => e)) as KumoError;
      expect(error.code).toBe("FN_005");
      expect(error.message).toContain(`handlerShape "${shape}" needs a container runtime`);
      expect(error.message).toContain("workers, deno-serve, web, lambda, openfaas, knative, step");
    }
  });
});
