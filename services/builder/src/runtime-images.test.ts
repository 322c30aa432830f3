import Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { createImageResolver } from "./runtime-images.ts";

const docker = new Docker({ socketPath: "/var/run/docker.sock" });

describe("runtime images", () => {
  it("runtime images - without an image builder, the engine's latest images are used, pinned by recipe digest", async () => {
    // The test command's setup built the runtime images (scripts/images.mjs).
    const resolve = createImageResolver({ docker });
    const images = await resolve("node", () => {});
    expect(images.run).toMatch(/^kumo\/runtime-node:[0-9a-f]{16}$/);
    expect(images.build).toMatch(/^kumo\/build-node:[0-9a-f]{16}$/);
    const latest = await docker.getImage("kumo/runtime-node:latest").inspect();
    expect(latest.RepoTags).toContain(images.run);
    expect(await resolve("container", () => {})).toEqual({ run: "" });
  });

  it("runtime images - missing ones are FN_008 saying how to build them", async () => {
    const empty = new Docker({ socketPath: "/var/run/docker.sock" });
    // An engine without the images: every lookup misses.
    empty.getImage = () => ({ inspect: () => Promise.reject(new Error("no such image")) }) as never;
    const resolve = createImageResolver({ docker: empty });
    await expect(resolve("python", () => {})).rejects.toMatchObject({
      code: "FN_008",
      message: expect.stringContaining("node scripts/images.mjs --only python"),
    });
  });

  it("runtime images - with an image builder, it builds first and its refs are used", async () => {
    const asked: string[][] = [];
    const resolve = createImageResolver({
      docker,
      ensureImages: async ({ only }) => {
        asked.push(only);
        return {
          ok: true,
          failed: {},
          images: {
            "runtime-go": "kumo/runtime-go:0123456789abcdef",
            "runtime-go-build": "kumo/runtime-go-build:fedcba9876543210",
          },
        };
      },
    });
    expect(await resolve("go", () => {})).toEqual({
      run: "kumo/runtime-go:0123456789abcdef",
      build: "kumo/runtime-go-build:fedcba9876543210",
    });
    await resolve("go", () => {});
    expect(asked).toEqual([["go"]]);
  });

  it("runtime images - a pinned version asks for its own recipes; the default version is the family's", async () => {
    const asked: string[][] = [];
    const resolve = createImageResolver({
      docker,
      ensureImages: async ({ only }) => {
        asked.push(only);
        const lang = only[0] ?? "";
        const suffix = lang === "node" || lang === "python" ? "" : lang.replace(/^(node|python)/, "");
        const family = lang.startsWith("node") ? "node" : "python";
        return {
          ok: true,
          failed: {},
          images: {
            [`runtime-${family}${suffix}`]: `kumo/runtime-${family}${suffix}:0123456789abcdef`,
            [`build-${family}${suffix}`]: `kumo/build-${family}${suffix}:fedcba9876543210`,
          },
        };
      },
    });
    expect((await resolve("node22", () => {})).run).toBe("kumo/runtime-node22:0123456789abcdef");
    expect((await resolve("node24", () => {})).run).toBe("kumo/runtime-node:0123456789abcdef");
    expect(await resolve("python3.13", () => {})).toEqual({
      run: "kumo/runtime-python3.13:0123456789abcdef",
      build: "kumo/build-python3.13:fedcba9876543210",
      python: "/usr/bin/python3.13",
    });
    expect(asked).toEqual([["node22"], ["node"], ["python3.13"]]);
    await expect(resolve("node18", () => {})).rejects.toMatchObject({ code: "FN_006" });
  });
});
