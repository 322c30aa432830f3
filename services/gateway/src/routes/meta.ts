import { functionConfigJsonSchema } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { GatewayContext } from "../context.ts";
import type { GatewayMetrics } from "../metrics.ts";

export interface MetaRouteDeps {
  metrics: GatewayMetrics;
  /** Checks each dependency; readiness fails while any is down. */
  readiness: () => Promise<Record<string, boolean>>;
}

export function metaRoutes(ctx: GatewayContext, deps: MetaRouteDeps): FastifyPluginAsyncZod {
  const kumoJsonSchema = functionConfigJsonSchema();
  return async (app) => {
    app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));

    app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
      const checks = await deps.readiness();
      const ready = Object.values(checks).every(Boolean);
      return reply.status(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    });

    app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
      reply.header("content-type", deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    });

    app.get(
      "/v1/schema/kumo.json",
      { schema: { tags: ["meta"], summary: "JSON schema of kumo.json" } },
      async () => kumoJsonSchema,
    );

    app.get("/", { schema: { hide: true } }, async (_request, reply) => {
      reply.type("text/html; charset=utf-8");
      return landingPage(ctx.publicUrl());
    });
  };
}

function landingPage(url: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Kumo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;color:#1d2430}code{background:#eef1f5;padding:.1rem .3rem;border-radius:4px}</style></head>
<body><h1>Kumo</h1><p>Self-hosted functions. This gateway serves:</p>
<ul><li><a href="/docs">API reference (OpenAPI)</a></li><li><a href="/v1/schema/kumo.json">kumo.json schema</a></li>
<li><a href="/metrics">Prometheus metrics</a></li><li>Functions at <code>${url}/fn/&lt;tenant&gt;/&lt;function&gt;/</code></li></ul>
<p>Get started: <code>kumo login --url ${url}</code>, then <code>kumo init hello --runtime edge</code> and <code>kumo deploy hello</code>.</p></body></html>`;
}
