import type { paths } from "./openapi.generated.ts";

/**
 * The request and answer types of the routes the client calls, taken from the generated OpenAPI
 * types where the route documents them. Routes whose answers the gateway does not describe yet
 * have small hand-written shapes here (the fields the client relies on).
 */
type JsonBody<T> = T extends { content: { "application/json": infer B } } ? B : never;

export type StepRunInput = JsonBody<paths["/v1/functions/{name}/run"]["post"]["requestBody"]>;
export type StepContext = NonNullable<StepRunInput["context"]>;
export type StepRunResult = JsonBody<paths["/v1/functions/{name}/run"]["post"]["responses"][200]>;
export type Queued = JsonBody<paths["/v1/functions/{name}/run"]["post"]["responses"][202]>;
export type DraftRunInput = JsonBody<paths["/v1/run"]["post"]["requestBody"]>;
export type DraftRunResult = JsonBody<paths["/v1/run"]["post"]["responses"][200]>;
export type FunctionDraftRunInput = JsonBody<paths["/v1/functions/{name}/draft-runs"]["post"]["requestBody"]>;
export type CreateFunctionInput = JsonBody<paths["/v1/functions"]["post"]["requestBody"]>;
export type LogLine = StepRunResult["logs"][number];

export interface FunctionInfo {
  id: string;
  name: string;
  runtime: string;
  config: Record<string, unknown>;
  [field: string]: unknown;
}

export interface VersionInfo {
  version: number;
  runtime: string;
  createdAt: string;
  [field: string]: unknown;
}

export interface Deployment {
  id: string;
  status: "queued" | "building" | "succeeded" | "failed";
  version: number | null;
  [field: string]: unknown;
}

export interface Invocation {
  id: string;
  status: "queued" | "running" | "succeeded" | "failed" | string;
  trigger: string;
  errorCode: string | null;
  [field: string]: unknown;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** A live log line as `…/logs?follow=1` streams it. */
export interface LiveLogLine {
  ts: string | number;
  level: string;
  message: string;
  invocationId?: string | null;
  [field: string]: unknown;
}
