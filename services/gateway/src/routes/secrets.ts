import { envKey, notFound, secretContext } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentSecret } from "../http/presenters.ts";

const secretParams = z.object({ name: envKey });

/** Secrets: written and listed, never read back. Values are sealed before they reach the database. */
export function secretRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/secrets",
      {
        schema: {
          tags: ["secrets"],
          summary: "List secrets (names and versions, never values)",
          querystring: pageQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const page = await store.secrets.list(request.query);
        return { items: page.items.map(presentSecret), nextCursor: page.nextCursor };
      },
    );

    app.get(
      "/v1/secrets/:name",
      {
        schema: { tags: ["secrets"], summary: "A secret's metadata (never its value)", params: secretParams },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const meta = await store.secrets.meta(request.params.name);
        if (!meta) throw notFound(`secret "${request.params.name}"`);
        return presentSecret(meta);
      },
    );

    app.put(
      "/v1/secrets/:name",
      {
        schema: {
          tags: ["secrets"],
          summary: "Create or rotate a secret (each write is a new version)",
          params: secretParams,
          body: z.strictObject({ value: z.string().min(1).max(65_536) }),
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const sealed = ctx.secretBox.seal(
          request.body.value,
          secretContext(store.tenantId, request.params.name),
        );
        const version = await store.secrets.put(request.params.name, sealed, ctx.secretBox.keyId);
        await store.audit.record(actorOf(principal), "secret.put", `secret/${request.params.name}`, {
          version,
        });
        ctx.changed(store.tenantId);
        return { name: request.params.name, version };
      },
    );

    app.delete(
      "/v1/secrets/:name",
      {
        schema: { tags: ["secrets"], summary: "Delete a secret and all its versions", params: secretParams },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        if (!(await store.secrets.delete(request.params.name)))
          throw notFound(`secret "${request.params.name}"`);
        await store.audit.record(actorOf(principal), "secret.delete", `secret/${request.params.name}`);
        ctx.changed(store.tenantId);
        return reply.status(204).send();
      },
    );
  };
}
