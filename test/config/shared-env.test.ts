import { loadAutoscalerConfig } from "@kumo/autoscaler";
import { loadBuilderConfig } from "@kumo/builder";
import { sharedEnv } from "@kumo/core";
import { loadGatewayConfig } from "@kumo/gateway";
import { loadSchedulerConfig } from "@kumo/scheduler";
import { describe, expect, it } from "vitest";

/**
 * Issue 11: a variable more than one service reads is validated by one schema, so `kumo dev`
 * (every service in one process, one environment) never starts one service and refuses another.
 */
const LOADERS = {
  gateway: loadGatewayConfig,
  autoscaler: loadAutoscalerConfig,
  builder: loadBuilderConfig,
  scheduler: loadSchedulerConfig,
} as const;

const SAMPLES: Record<string, string[]> = {
  KUMO_EDGE_ALLOW_PRIVATE_FETCH: ["yes", "no", "true", "0", "TRUE", "On", "maybe", ""],
  KUMO_DATABASE_SCHEMA: ["public", "t_abc", "Upper", "1abc", "a-b"],
  KUMO_MASTER_KEY: ["a".repeat(64), "A".repeat(64), "a".repeat(63), "z".repeat(64)],
  KUMO_BUS_NAMESPACE: ["", "abc123", "ABC", "a.b"],
  NATS_URL: ["nats://127.0.0.1:4222", ""],
  KUMO_HOST: ["127.0.0.1", "::1", ""],
  KUMO_LOG_LEVEL: ["info", "silent", "loud"],
};

/** What a service makes of an environment: its error message, or that it loaded. */
function outcome(load: (env: Record<string, string>) => unknown, env: Record<string, string>): string {
  try {
    load(env);
    return "ok";
  } catch {
    return "refused";
  }
}

describe("shared environment variables", () => {
  it("config - every service that reads a shared variable accepts and refuses the same values", () => {
    // The probe below finds who reads what; make sure it does find readers.
    expect([...schemaKeys.gateway]).toEqual(
      expect.arrayContaining(["NATS_URL", "KUMO_EDGE_ALLOW_PRIVATE_FETCH"]),
    );
    expect([...schemaKeys.autoscaler]).toEqual(
      expect.arrayContaining(["KUMO_DATABASE_SCHEMA", "KUMO_MASTER_KEY"]),
    );
    expect([...schemaKeys.scheduler]).toContain("NATS_URL");
    const disagreements: string[] = [];
    for (const [name, values] of Object.entries(SAMPLES)) {
      expect(Object.keys(sharedEnv)).toContain(name);
      for (const value of values) {
        const env = { [name]: value, KUMO_NODE_ID: "n1" };
        const readers = Object.entries(LOADERS).filter(([service]) =>
          Object.hasOwn(schemaKeys, service)
            ? schemaKeys[service as keyof typeof schemaKeys].has(name)
            : false,
        );
        const answers = new Set(readers.map(([, load]) => outcome(load, env)));
        if (answers.size > 1)
          disagreements.push(
            `${name}=${JSON.stringify(value)}: ${readers.map(([s, l]) => `${s} ${outcome(l, env)}`).join(", ")}`,
          );
      }
    }
    expect(disagreements).toEqual([]);
  });

  it("config - KUMO_EDGE_ALLOW_PRIVATE_FETCH=yes means the same to the gateway and the autoscaler", () => {
    const env = { KUMO_EDGE_ALLOW_PRIVATE_FETCH: "yes" };
    expect(loadGatewayConfig(env).edgeAllowPrivateFetch).toBe(true);
    expect(loadAutoscalerConfig(env).edgeAllowPrivateFetch).toBe(true);
  });
});

const schemaKeys = {
  gateway: keysOf(loadGatewayConfig),
  autoscaler: keysOf(loadAutoscalerConfig),
  builder: keysOf(loadBuilderConfig),
  scheduler: keysOf(loadSchedulerConfig),
};

/** The variables a loader reads: those whose invalid value it refuses by name. */
function keysOf(load: (env: Record<string, string>) => unknown): Set<string> {
  const read = new Set<string>();
  for (const name of Object.keys(sharedEnv)) {
    const probe = new Proxy({} as Record<string, string>, {
      get: (_t, key) => {
        if (key === name) read.add(name);
        return undefined;
      },
      has: () => false,
      ownKeys: () => [],
    });
    try {
      load(probe);
    } catch {
      // only which keys were read matters
    }
  }
  return read;
}
