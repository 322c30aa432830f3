import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigStore, configPath, resolveCredentials } from "../../packages/cli/src/config-store.ts";
import { runKumo } from "./support/run-kumo.ts";
import { envelope, StubServer } from "./support/stub-server.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kumo-config-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("config store - file", () => {
  it("writes the key with mode 0600 in a 0700 directory, even over a world-readable file", async () => {
    const path = join(dir, "nested", "kumo", "config.json");
    const store = new ConfigStore(path);
    await store.write({ url: "http://127.0.0.1:8080", apiKey: "k1" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "nested", "kumo"))).mode & 0o777).toBe(0o700);

    await writeFile(path, "{}", { mode: 0o644 });
    await store.write({ url: "http://127.0.0.1:8080", apiKey: "k2" });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await store.read()).toEqual({ url: "http://127.0.0.1:8080", apiKey: "k2" });
  });

  it("reads a missing file as empty and a broken one as a usage error", async () => {
    expect(await new ConfigStore(join(dir, "none.json")).read()).toEqual({});
    await writeFile(join(dir, "bad.json"), "{");
    await expect(new ConfigStore(join(dir, "bad.json")).read()).rejects.toMatchObject({ exitCode: 2 });
  });

  it("finds the file through KUMO_CONFIG, XDG_CONFIG_HOME or HOME", () => {
    expect(configPath({ KUMO_CONFIG: "/x/c.json", HOME: "/home/a" })).toBe("/x/c.json");
    expect(configPath({ XDG_CONFIG_HOME: "/xdg", HOME: "/home/a" })).toBe("/xdg/kumo/config.json");
    expect(configPath({ HOME: "/home/a" })).toBe("/home/a/.config/kumo/config.json");
  });
});

describe("config store - credentials", () => {
  const stored = { url: "http://127.0.0.1:8080/", apiKey: "stored" };

  it("prefers flags, then environment, then the file", () => {
    expect(resolveCredentials({ key: "flag" }, { KUMO_API_KEY: "env" }, stored)).toMatchObject({
      apiKey: "flag",
      source: "flag",
    });
    expect(resolveCredentials({}, { KUMO_API_KEY: "env", KUMO_URL: "http://h:1" }, stored)).toEqual({
      url: "http://h:1",
      apiKey: "env",
      source: "env",
    });
    expect(resolveCredentials({}, {}, stored)).toEqual({
      url: "http://127.0.0.1:8080",
      apiKey: "stored",
      source: "config",
    });
  });

  it("never sends the stored key to another URL", () => {
    expect(resolveCredentials({ url: "https://elsewhere.example" }, {}, stored)).toEqual({
      url: "https://elsewhere.example",
      apiKey: undefined,
      source: "none",
    });
    expect(() => resolveCredentials({ url: "ftp://x" }, {}, stored)).toThrow(/only http and https/);
  });
});

describe("kumo login", () => {
  let stub: StubServer;
  beforeAll(async () => {
    stub = await StubServer.start();
  });
  afterAll(async () => {
    await stub.stop();
  });
  beforeEach(() => stub.reset());

  it("checks the key with whoami, stores it 0600, and later commands use it", async () => {
    stub.on("GET /v1/whoami", (req, res) => {
      const ok = req.headers.authorization === "Bearer good-key";
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          ok
            ? { tenant: { id: "ten_1", name: "acme" }, role: "developer", keyId: "key_1" }
            : envelope("FN_009", "invalid API key"),
        ),
      );
    });
    const env = { KUMO_CONFIG: join(dir, "config.json") };

    const rejected = await runKumo(["login", "--url", stub.url, "--key", "bad-key"], { env });
    expect(rejected.code).toBe(3);
    expect(rejected.stderr).toContain("error FN_009: invalid API key");
    await expect(stat(env.KUMO_CONFIG)).rejects.toThrow();

    const login = await runKumo(["login", "--url", stub.url], { env, stdin: "good-key\n" });
    expect(login.code).toBe(0);
    expect(login.stdout).toBe(`Logged in to ${stub.url} as developer of tenant acme.\n`);
    expect((await stat(env.KUMO_CONFIG)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(env.KUMO_CONFIG, "utf8"))).toEqual({
      url: stub.url,
      apiKey: "good-key",
    });

    const whoami = await runKumo(["whoami", "--json"], { env });
    expect(whoami.code).toBe(0);
    expect(JSON.parse(whoami.stdout)).toEqual({
      url: stub.url,
      tenant: { id: "ten_1", name: "acme" },
      role: "developer",
      keyId: "key_1",
    });

    const logout = await runKumo(["logout"], { env });
    expect(logout.code).toBe(0);
    const after = await runKumo(["whoami"], { env });
    expect(after.code).toBe(3);
    expect(after.stderr).toContain(`not logged in to ${stub.url}`);
  });

  it("fails with a usage error when no key is given off a terminal", async () => {
    const result = await runKumo(["login", "--url", stub.url], { env: { KUMO_CONFIG: join(dir, "c.json") } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no API key given");
    expect(stub.requests).toHaveLength(0);
  });
});
