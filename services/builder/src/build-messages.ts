import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

/**
 * The BuildService of proto/build.proto, loaded at run time (no generated code). The interfaces
 * below are the messages as proto-loader presents them (camelCase fields, oneof name set);
 * build-messages.test.ts checks they name exactly the fields the .proto declares.
 */

/** Resolved as a dependency (@kumo/proto), not by where this file sits in a checkout. */
export const PROTO_PATH = createRequire(import.meta.url).resolve("@kumo/proto/build.proto");

/** Large enough for a source upload (50 MiB uncompressed at most) plus framing. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface BuildRequestMessage {
  tenantId: string;
  functionName: string;
  runtime: string;
  handler: string;
  sourceTar: Buffer;
  deploymentId: string;
  /** The function's plain environment for the load check's container (never secrets, not in the image). */
  env?: Record<string, string>;
  /** Runtime container: the TCP port the image listens on (kumo.json `port`); 0 or absent: none. */
  port?: number;
  /** With `port`: the path whose 2xx means ready (kumo.json `healthPath`); "" or absent: a TCP connect. */
  healthPath?: string;
}

export interface BuildResultMessage {
  image: string;
  imageId: string;
  codeDigest: string;
  cached: boolean;
  imageBytes: number;
  buildMs: number;
  runtime: string;
}

export interface BuildErrorMessage {
  code: string;
  message: string;
  logTail: string;
}

export type BuildEventMessage =
  | { event: "log"; log: string }
  | { event: "codeTarChunk"; codeTarChunk: Buffer }
  | { event: "result"; result: BuildResultMessage }
  | { event: "error"; error: BuildErrorMessage };

export interface GitSourceMessage {
  url: string;
  ref: string;
}

export type FetchEventMessage =
  | { event: "tarChunk"; tarChunk: Buffer }
  | { event: "result"; result: { commit: string } }
  | { event: "error"; error: BuildErrorMessage };

export interface EdgeDependenciesRequestMessage {
  tenantId: string;
  functionName: string;
  manifestsTar: Buffer;
  deploymentId: string;
  cachedOnly: boolean;
}

export interface EdgeDependenciesResultMessage {
  digest: string;
  cached: boolean;
  installMs: number;
  files: number;
  bytes: number;
}

export type EdgeDependenciesEventMessage =
  | { event: "log"; log: string }
  | { event: "nodeModulesTarChunk"; nodeModulesTarChunk: Buffer }
  | { event: "result"; result: EdgeDependenciesResultMessage }
  | { event: "error"; error: BuildErrorMessage };

const LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

/** The service definition for servers and the client constructor, from the .proto. */
export function loadBuildService(): {
  definition: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
} {
  const packageDefinition = loadSync(PROTO_PATH, LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    kumo: { build: { v1: { BuildService: grpc.ServiceClientConstructor } } };
  };
  const Client = loaded.kumo.build.v1.BuildService;
  return { definition: Client.service, Client };
}

/** Message field names as the .proto declares them (camelCased), for the consistency test. */
export function protoFieldNames(message: string): string[] {
  const packageDefinition = loadSync(PROTO_PATH, LOADER_OPTIONS);
  const type = packageDefinition[`kumo.build.v1.${message}`] as
    | { type?: { field?: { name: string }[] } }
    | undefined;
  return (type?.type?.field ?? []).map((f) => f.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
}
