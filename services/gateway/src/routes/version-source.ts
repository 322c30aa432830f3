import { notFound } from "@kumo/core";
import { readSourceArchive } from "@kumo/source";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import type { GatewayContext } from "../context.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

/** Files larger than this come back without content (an editor is no place for them). */
const MAX_FILE_BYTES = 1024 * 1024;

/**
 * `GET /v1/functions/:name/versions/:version/source`: the files a version was deployed from, as
 * text, for the console's editor. Versions deployed before sources were kept show their bundled
 * code as one file (`source: "bundle"`).
 */
export function versionSourceRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/functions/:name/versions/:version/source",
      {
        schema: {
          tags: ["versions"],
          summary: "The source files of a version ({path: content}), kumo.json included",
          params: functionParams.extend({ version: z.coerce.number().int().min(1).max(1e9) }),
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const version = await store.versions.get(fn.id, request.params.version);
        if (!version) throw notFound(`version ${request.params.version} of function "${fn.name}"`);
        const tar = await store.artifacts.get(version.source_digest);
        if (tar) {
          const files: Record<string, string> = {};
          const omitted: string[] = [];
          for (const [path, content] of await readSourceArchive(Buffer.from(tar))) {
            if (content.byteLength > MAX_FILE_BYTES || content.includes(0)) omitted.push(path);
            else files[path] = Buffer.from(content).toString("utf8");
          }
          return { version: version.version, source: "files" as const, files, omitted };
        }
        const bundle = version.runtime === "edge" ? await store.artifacts.get(version.artifact) : undefined;
        if (!bundle) throw notFound(`the source of version ${version.version} (it was not kept)`);
        return {
          version: version.version,
          source: "bundle" as const,
          files: { "bundle.js": Buffer.from(bundle).toString("utf8") },
          omitted: [],
        };
      },
    );
  };
}
