import { describe, expect, it } from "vitest";
import type {
  BuildErrorMessage,
  BuildRequestMessage,
  BuildResultMessage,
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

describe("build proto", () => {
  it("build proto - the TypeScript message shapes match proto/build.proto", () => {
    expect(protoFieldNames("BuildRequest").sort()).toEqual(Object.keys(request).sort());
    expect(protoFieldNames("BuildResult").sort()).toEqual(Object.keys(result).sort());
    expect(protoFieldNames("BuildError").sort()).toEqual(Object.keys(error).sort());
    expect(protoFieldNames("GitSource").sort()).toEqual(Object.keys(git).sort());
    expect(protoFieldNames("BuildEvent").sort()).toEqual(["codeTarChunk", "error", "log", "result"]);
    expect(protoFieldNames("FetchEvent").sort()).toEqual(["error", "result", "tarChunk"]);
  });

  it("build proto - the service has the Build and FetchGit server-streaming methods", () => {
    const { definition } = loadBuildService();
    expect(Object.keys(definition).sort()).toEqual(["Build", "FetchGit"]);
    expect(definition.Build?.responseStream).toBe(true);
    expect(definition.FetchGit?.responseStream).toBe(true);
  });
});
