import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { memoryCgroupOf, writeMemoryLimit } from "./memory-cgroup.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("memory cgroup - this process's memory cgroup is found in the host's tree", () => {
  const cgroup = memoryCgroupOf(process.pid);
  expect(cgroup).toBeDefined();
  expect(existsSync(cgroup?.dir ?? "/nonexistent")).toBe(true);
  expect(memoryCgroupOf(0)).toBeUndefined();
});

test("memory cgroup - v1: the limit and memory+swap are written in an order the kernel accepts", () => {
  dir = mkdtempSync(join(tmpdir(), "kumo-cgroup-"));
  const read = (file: string) => readFileSync(join(dir as string, file), "utf8");
  writeFileSync(join(dir, "memory.limit_in_bytes"), String(512 * 1048576));
  writeFileSync(join(dir, "memory.memsw.limit_in_bytes"), String(512 * 1048576));
  writeMemoryLimit({ version: 1, dir }, 96 * 1048576);
  expect([read("memory.limit_in_bytes"), read("memory.memsw.limit_in_bytes")]).toEqual([
    String(96 * 1048576),
    String(96 * 1048576),
  ]);
  writeMemoryLimit({ version: 1, dir }, 1024 * 1048576);
  expect(read("memory.limit_in_bytes")).toBe(String(1024 * 1048576));
});

test("memory cgroup - v2: memory.max takes the limit and no swap is allowed", () => {
  dir = mkdtempSync(join(tmpdir(), "kumo-cgroup-"));
  writeMemoryLimit({ version: 2, dir }, 64 * 1048576);
  expect(readFileSync(join(dir, "memory.max"), "utf8")).toBe(String(64 * 1048576));
  expect(readFileSync(join(dir, "memory.swap.max"), "utf8")).toBe("0");
});
