import type { PlatformStore } from "@kumo/db";
import { describe, expect, it } from "vitest";
import { HostTable } from "./host-table.ts";

/** classify() never reaches the store; custom domains would come from refresh(). */
const table = (functionHosts: boolean) =>
  new HostTable({
    platform: {} as PlatformStore,
    appsDomain: "apps.example.com",
    functionHosts,
    refreshMs: 60_000,
    onError: () => {},
  });

describe("HostTable", () => {
  it("host table - one label under the apps domain is a tenant host, two a function host", () => {
    const hosts = table(true);
    expect(hosts.classify("acme.apps.example.com")).toEqual({ kind: "apps", tenantName: "acme", host: null });
    expect(hosts.classify("Hello.ACME.apps.example.com:8443")).toEqual({
      kind: "function",
      tenantName: "acme",
      functionName: "hello",
      host: null,
    });
    expect(hosts.classify("hello.acme.apps.example.com.")).toMatchObject({ kind: "function" });
  });

  it("host table - other shapes are not tenant or function hosts", () => {
    const hosts = table(true);
    for (const host of [
      "apps.example.com",
      "x.hello.acme.apps.example.com",
      "1bad.acme.apps.example.com",
      "hello.acme_.apps.example.com",
      ".acme.apps.example.com",
      "hello.acme.apps.example.org",
      "example.com",
      undefined,
    ])
      expect(hosts.classify(host), String(host)).toBeUndefined();
  });

  it("host table - with function hosts off two labels are nothing, one label still a tenant", () => {
    const hosts = table(false);
    expect(hosts.classify("hello.acme.apps.example.com")).toBeUndefined();
    expect(hosts.classify("acme.apps.example.com")).toMatchObject({ kind: "apps" });
  });
});
