import { afterAll, beforeAll } from "vitest";
import { createEdgeProvider, type EdgeProvider } from "./edge-provider.ts";

/**
 * Limits that give conformance tests CPU headroom: the first use of a lazy global evaluates its
 * library in that invocation, isolated-vm's entry timeout is wall-clock, and CI machines are shared.
 */
export const ROOMY = { cpuMs: 2000, timeoutMs: 10_000 } as const;

/** One edge provider (one isolate host) for a test file: started before its tests, stopped after. */
export function edgeProviderForFile(): { readonly current: EdgeProvider } {
  let provider: EdgeProvider | undefined;
  beforeAll(async () => {
    provider = await createEdgeProvider({ hosts: 1 });
  });
  afterAll(async () => {
    await provider?.stop();
  });
  return {
    get current(): EdgeProvider {
      if (!provider) throw new Error("the edge provider did not start");
      return provider;
    },
  };
}
