import type { FastifyInstance } from "fastify";

/**
 * Invocation routes hand request bodies to functions as raw bytes, whatever their content type,
 * up to the invocation body limit (FN_010 above it).
 */
export function acceptRawBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit }, (_req, body, done) => done(null, body));
}
