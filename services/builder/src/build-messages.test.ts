import { describe, expect, it } from "vitest";
import type {
  BuildErrorMessage,
  BuildRequestMessage,
  BuildResultMessage,
  EdgeDependenciesRequestMessage,
  EdgeDependenciesResultMessage,
  GitSourceMessage,
} from "./build-messages.ts";
import { loadBuildService, protoFieldNames } from "./build-messages.ts";

// Compile-time lists: adding a field to an interface without listing it here is a type error.
const request: Record<keyof BuildRequestMessage, true> = {
  tenantId: true,
  functionName: true,
  runtime: true,
  handler: true,
  sourceTar: true,
  deploymentId: true,
  env: true,
  port: true,
  healthPath: true,
};
const result: Record<keyof BuildResultMessage, true> = {
  image: true,
  imageId: true,
  codeDigest: true,
  cached: true,
  imageBytes: true,
  buildMs: true,
  runtime: true,
};
const error: Record<keyof BuildErrorMessage, true> = { code: true, message: true, logTail: true };
const git: Record<keyof GitSourceMessage, true> = { url: true, ref: true };
const edgeRequest: Record<keyof EdgeDependenciesRequestMessage, true> = {
  tenantId: true,
  functionName: true,
  manifestsTar: true,
  deploymentId: true,
  cachedOnly: true,
};
const edgeResult: Record<keyof EdgeDependenciesResultMessage, true> = {
  digest: true,
  cached: true,
  installMs: true,
  files: true,
  bytes: true,
};

describe("build proto", () => {
  it("build proto - the TypeScript message shapes match proto/build.proto", () => {
    expect(protoFieldNames("BuildRequest").sort()).toEqual(Object.keys(request).sort());
    expect(protoFieldNames("BuildResult").sort()).toEqual(Object.keys(result).sort());
    expect(protoFieldNames("BuildError").sort()).toEqual(Object.keys(error).sort());
    expect(protoFieldNames("GitSource").sort()).toEqual(Object.keys(git).sort());
    expect(protoFieldNames("BuildEvent").sort()).toEqual(["codeTarChunk", "error", "log", "result"]);
    expect(protoFieldNames("FetchEvent").sort()).toEqual(["error", "result", "tarChunk"]);
    expect(protoFieldNames("EdgeDependenciesRequest").sort()).toEqual(Object.keys(edgeRequest).sort());
    expect(protoFieldNames("EdgeDependenciesResult").sort()).toEqual(Object.keys(edgeResult).sort());
    expect(protoFieldNames("EdgeDependenciesEvent").sort()).toEqual([
      "error",
      "log",
      "nodeModulesTarChunk",
      "result",
    ]);
  });

  it("build proto - the service has the Build, FetchGit and InstallEdgeDependencies server-streaming methods", () => {
    const { definition } = loadBuildService();
    expect(Object.keys(definition).sort()).toEqual(["Build", "FetchGit", "InstallEdgeDependencies"]);
    expect(definition.InstallEdgeDependencies?.responseStream).toBe(true);
    expect(definition.Build?.responseStream).toBe(true);
    expect(definition.FetchGit?.responseStream).toBe(true);
  });
});
