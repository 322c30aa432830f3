import { functionConfigJsonSchema } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { GatewayContext } from "../context.ts";
import type { GatewayMetrics } from "../metrics.ts";

export interface MetaRouteDeps {
  metrics: GatewayMetrics;
  /** Checks each dependency; readiness fails while any is down. */
  readiness: () => Promise<Record<string, boolean>>;
}

export function metaRoutes(_ctx: GatewayContext, deps: MetaRouteDeps): FastifyPluginAsyncZod {
  const kumoJsonSchema = functionConfigJsonSchema();
  return async (app) => {
    app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));

    app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
      const checks = await deps.readiness();
      const ready = Object.values(checks).every(Boolean);
      return reply.status(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    });

    app.get("/metrics", { schema: { hide: true } }, async (request, reply) => {
      const { contentType, body } = await deps.metrics.exposer.scrape(request.headers.accept);
      reply.header("content-type", contentType);
      return body;
    });

    app.get(
      "/v1/schema/kumo.json",
      { schema: { tags: ["meta"], summary: "JSON schema of kumo.json" } },
      async () => kumoJsonSchema,
    );
  };
}
