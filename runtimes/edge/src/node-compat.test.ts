import { createHash, createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KumoError } from "@kumo/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleEdgeFunction } from "./bundle-edge-function.ts";
import { createEdgeProvider, type EdgeProvider } from "./edge-provider.ts";
import { edgeTarget, invokeEdge } from "./edge-test-kit.ts";

let provider: EdgeProvider;

beforeAll(async () => {
  provider = await createEdgeProvider({ hosts: 1 });
});
afterAll(async () => {
  await provider?.stop();
});

/** CPU headroom: the first use of a module evaluates it, and this machine is shared. */
const NODEJS = { cpuMs: 2000, timeoutMs: 10_000, compatibility: ["nodejs"] as "nodejs"[] };

/** Runs `body` (an async function's inside, after `imports`) in an edge function with the Node layer. */
async function run<T = unknown>(imports: string, body: string, env: Record<string, string> = {}): Promise<T> {
  const target = await edgeTarget(
    `${imports}
    export default { async fetch(request: Request): Promise<Response> {
      const result = await (async () => { ${body} })();
      return Response.json(result ?? null);
    } };`,
    { config: NODEJS, env },
  );
  const res = await invokeEdge(provider, target);
  if (res.status !== 200)
    throw new Error(`status ${res.status}: ${res.text} ${JSON.stringify(res.result.error)}`);
  return res.json<T>();
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as KumoError,
  );

describe("edge node compatibility - deploy", () => {
  it("bundle - node: imports fail with FN_005 without the flag, and the message names the flag", async () => {
    const error = await failure(
      bundleEdgeFunction({
        "index.ts": `import { Buffer } from "node:buffer"; export default { fetch: () => new Response(Buffer.from("a").toString("hex")) };`,
      }),
    );
    expect(error?.code).toBe("FN_005");
    expect(error?.message).toContain('"node:buffer"');
    expect(error?.message).toContain('"compatibility": ["nodejs"]');
  });

  it("bundle - node:fs stays refused with the flag, naming the module and the package that imports it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kumo-compat-"));
    try {
      const pkg = join(dir, "node_modules", "reads-files");
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "reads-files", main: "index.js" }));
      writeFileSync(
        join(pkg, "index.js"),
        `const fs = require("node:fs"); module.exports = () => fs.readFileSync("/etc/hostname", "utf8");`,
      );
      const error = await failure(
        bundleEdgeFunction(
          {
            "index.ts": `import read from "reads-files"; export default { fetch: () => new Response(read()) };`,
          },
          { nodeModulesDir: dir, compatibility: ["nodejs"] },
        ),
      );
      expect(error?.code).toBe("FN_005");
      expect(error?.message).toContain('package "reads-files" needs "node:fs"');
      const own = await failure(
        bundleEdgeFunction(
          { "index.ts": `import { readFileSync } from "node:fs"; export default readFileSync;` },
          { compatibility: ["nodejs"] },
        ),
      );
      expect(own?.code).toBe("FN_005");
      expect(own?.message).toContain('index.ts needs "node:fs"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bundle - an npm-style package importing node:buffer, events, util and crypto bundles and runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kumo-compat-"));
    try {
      const pkg = join(dir, "node_modules", "signer");
      mkdirSync(pkg, { recursive: true });
      writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "signer", main: "index.js" }));
      writeFileSync(
        join(pkg, "index.js"),
        `const { Buffer } = require("node:buffer");
         const { EventEmitter } = require("node:events");
         const util = require("node:util");
         const crypto = require("node:crypto");
         class Signer extends EventEmitter {
           sign(text) {
             const mac = crypto.createHmac("sha256", "secret").update(Buffer.from(text)).digest("hex");
             this.emit("signed", mac);
             return util.format("%s=%s", text, mac);
           }
         }
         module.exports = { Signer };`,
      );
      const bundle = await bundleEdgeFunction(
        {
          "index.ts": `import { Signer } from "signer";
          export default { fetch() {
            const signer = new Signer(); let seen = "";
            signer.on("signed", (mac: string) => { seen = mac; });
            return Response.json({ line: signer.sign("order-1"), seen });
          } };`,
        },
        { nodeModulesDir: dir, compatibility: ["nodejs"] },
      );
      const target = await edgeTarget({ "index.ts": "export default {}" }, { config: NODEJS });
      const res = await invokeEdge(provider, {
        ...target,
        versionId: `${target.versionId}-signer`,
        loadCode: async () => bundle.code,
      });
      const mac = createHmac("sha256", "secret").update("order-1").digest("hex");
      expect(res.json()).toEqual({ line: `order-1=${mac}`, seen: mac });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("edge node compatibility - modules", () => {
  it("buffer - Buffer global and node:buffer: encodings, concat, compare, readUInt", async () => {
    const out = await run(
      `import { Buffer as B } from "node:buffer";`,
      `const b = Buffer.from("héllo");
       return {
         same: B === Buffer,
         hex: b.toString("hex"),
         b64: Buffer.from("hi?").toString("base64"),
         back: Buffer.from("aGk/", "base64").toString(),
         concat: Buffer.concat([Buffer.from([1, 2]), Buffer.from([3])]).toJSON().data,
         compare: Buffer.compare(Buffer.from("a"), Buffer.from("b")),
         u32: Buffer.from([0, 0, 1, 0]).readUInt32BE(0),
         isBuffer: Buffer.isBuffer(b) && !Buffer.isBuffer(new Uint8Array(1)),
         byteLength: Buffer.byteLength("héllo"),
       };`,
    );
    expect(out).toEqual({
      same: true,
      hex: Buffer.from("héllo").toString("hex"),
      b64: "aGk/",
      back: "hi?",
      concat: [1, 2, 3],
      compare: -1,
      u32: 256,
      isBuffer: true,
      byteLength: 6,
    });
  });

  it("events - EventEmitter: on/once/off, listenerCount, error without a listener throws, events.once", async () => {
    const out = await run(
      `import { EventEmitter, once } from "node:events";`,
      `const e = new EventEmitter(); const seen: unknown[] = [];
       const f = (v: unknown) => seen.push(["on", v]);
       e.on("x", f); e.once("x", (v: unknown) => seen.push(["once", v]));
       e.emit("x", 1); e.emit("x", 2); e.off("x", f); e.emit("x", 3);
       let thrown = "";
       try { e.emit("error", new Error("boom")); } catch (err) { thrown = (err as Error).message; }
       setTimeout(() => e.emit("later", 42), 1);
       const [later] = await once(e, "later");
       return { seen, count: e.listenerCount("x"), thrown, later };`,
    );
    expect(out).toEqual({
      seen: [
        ["on", 1],
        ["once", 1],
        ["on", 2],
      ],
      count: 0,
      thrown: "boom",
      later: 42,
    });
  });

  it("util - format, inspect, promisify, types, TextEncoder, inherits", async () => {
    const out = await run(
      `import util from "node:util";`,
      `const sleep = util.promisify((ms: number, cb: (e: Error | null, v?: string) => void) => setTimeout(() => cb(null, "woke"), ms));
       function A() {} function B() {} util.inherits(B, A);
       return {
         format: util.format("%s is %d years and %j", "Bob", 42, { a: 1 }),
         inspect: util.inspect({ a: [1, { b: 2 }] }),
         slept: await sleep(1),
         date: util.types.isDate(new Date()),
         promise: util.types.isPromise(Promise.resolve()),
         inherits: Object.getPrototypeOf(B.prototype) === A.prototype,
       };`,
    );
    expect(out).toEqual({
      format: 'Bob is 42 years and {"a":1}',
      inspect: "{ a: [ 1, { b: 2 } ] }",
      slept: "woke",
      date: true,
      promise: true,
      inherits: true,
    });
  });

  it("stream - Readable.from, Transform and pipeline move data with backpressure semantics", async () => {
    const out = await run(
      `import { Readable, Transform, Writable, pipeline, PassThrough } from "node:stream";`,
      `const chunks: string[] = [];
       await new Promise<void>((resolve, reject) =>
         pipeline(
           Readable.from(["a", "b", "c"]),
           new Transform({ transform(chunk, _enc, cb) { cb(null, String(chunk).toUpperCase()); } }),
           new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } }),
           (err: Error | null | undefined) => (err ? reject(err) : resolve()),
         ),
       );
       const pass = new PassThrough(); pass.end("tail");
       let tail = ""; for await (const c of pass) tail += String(c);
       return { chunks, tail };`,
    );
    expect(out).toEqual({ chunks: ["A", "B", "C"], tail: "tail" });
  });

  it("path - join, resolve, relative, parse, extname (POSIX)", async () => {
    const out = await run(
      `import path from "node:path";`,
      `return {
         join: path.join("/a/b", "../c", "./d.txt"),
         resolve: path.resolve("/x", "y", "..", "z"),
         relative: path.relative("/a/b/c", "/a/d"),
         parse: path.parse("/home/u/file.tar.gz"),
         ext: path.extname("index.test.ts"),
         sep: path.sep,
       };`,
    );
    expect(out).toEqual({
      join: "/a/c/d.txt",
      resolve: "/x/z",
      relative: "../../d",
      parse: { root: "/", dir: "/home/u", base: "file.tar.gz", ext: ".gz", name: "file.tar" },
      ext: ".ts",
      sep: "/",
    });
  });

  it("url - legacy parse and format, WHATWG URL, fileURLToPath", async () => {
    const out = await run(
      `import url, { URL, fileURLToPath, pathToFileURL } from "node:url";`,
      `const parsed = url.parse("https://user@example.com:8080/p/a?x=1#h", true);
       return {
         host: parsed.host, pathname: parsed.pathname, query: parsed.query, hash: parsed.hash,
         formatted: url.format({ protocol: "http", host: "a.test", pathname: "/b", query: { c: "d" } }),
         resolved: url.resolve("http://a.test/b/c", "../d"),
         whatwg: new URL("/x?y=1", "http://h.test").href,
         file: fileURLToPath("file:///tmp/a%20b.txt"),
         back: pathToFileURL("/tmp/x").href,
       };`,
    );
    expect(out).toEqual({
      host: "example.com:8080",
      pathname: "/p/a",
      query: { x: "1" },
      hash: "#h",
      formatted: "http://a.test/b?c=d",
      resolved: "http://a.test/d",
      whatwg: "http://h.test/x?y=1",
      file: "/tmp/a b.txt",
      back: "file:///tmp/x",
    });
  });

  it("assert - ok, strictEqual, deepStrictEqual and throws raise AssertionError", async () => {
    const out = await run(
      `import assert from "node:assert"; import strict from "node:assert/strict";`,
      `const names: string[] = [];
       const attempt = (f: () => void) => { try { f(); names.push("passed"); } catch (e) { names.push((e as Error).name + ":" + (e as { code?: string }).code); } };
       attempt(() => assert.ok(true));
       attempt(() => assert.strictEqual(1, "1" as unknown as number));
       attempt(() => assert.deepStrictEqual({ a: [1, 2] }, { a: [1, 2] }));
       attempt(() => assert.deepStrictEqual({ a: 1 }, { a: 2 }));
       attempt(() => assert.throws(() => { throw new TypeError("x"); }, TypeError));
       attempt(() => strict.equal(1, 1));
       return names;`,
    );
    expect(out).toEqual([
      "passed",
      "AssertionError:ERR_ASSERTION",
      "passed",
      "AssertionError:ERR_ASSERTION",
      "passed",
      "passed",
    ]);
  });

  it("string_decoder - a UTF-8 character split across chunks is decoded whole", async () => {
    const out = await run(
      `import { StringDecoder } from "node:string_decoder";`,
      `const euro = Buffer.from("€"); const d = new StringDecoder("utf8");
       return [d.write(euro.subarray(0, 1)), d.write(euro.subarray(1)), d.end()];`,
    );
    expect(out).toEqual(["", "€", ""]);
  });

  it("crypto - createHash md5/sha1/sha256/sha512, createHmac, randomBytes, randomUUID, timingSafeEqual, webcrypto", async () => {
    const out = await run(
      `import crypto, { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual, webcrypto } from "node:crypto";`,
      `const h = createHash("sha256").update("hello ").update(Buffer.from("world"));
       const copy = h.copy();
       let unsupported = "";
       try { createHash("whirlpool"); } catch (e) { unsupported = (e as { code?: string }).code ?? ""; }
       let unequal = "";
       try { timingSafeEqual(Buffer.from("a"), Buffer.from("ab")); } catch (e) { unequal = (e as { code?: string }).code ?? ""; }
       const digest = new Uint8Array(await webcrypto.subtle.digest("SHA-256", new TextEncoder().encode("x")));
       return {
         md5: createHash("md5").update("abc").digest("hex"),
         sha1: createHash("sha1").update("abc").digest("base64"),
         sha256: h.digest("hex"),
         copied: copy.digest("hex"),
         sha512: crypto.createHash("sha512").update("").digest("hex").slice(0, 16),
         hmac: createHmac("sha1", Buffer.from("key")).update("data").digest("hex"),
         random: [randomBytes(16).length, randomBytes(70000).length, Buffer.isBuffer(randomBytes(1))],
         distinct: randomBytes(8).toString("hex") !== randomBytes(8).toString("hex"),
         uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(randomUUID()),
         safe: [timingSafeEqual(Buffer.from("abc"), Buffer.from("abc")), timingSafeEqual(Buffer.from("abc"), Buffer.from("abd"))],
         unsupported, unequal,
         subtle: Buffer.from(digest).toString("hex"),
       };`,
    );
    expect(out).toEqual({
      md5: createHash("md5").update("abc").digest("hex"),
      sha1: createHash("sha1").update("abc").digest("base64"),
      sha256: createHash("sha256").update("hello world").digest("hex"),
      copied: createHash("sha256").update("hello world").digest("hex"),
      sha512: createHash("sha512").update("").digest("hex").slice(0, 16),
      hmac: createHmac("sha1", "key").update("data").digest("hex"),
      random: [16, 70000, true],
      distinct: true,
      uuid: true,
      safe: [true, false],
      unsupported: "ERR_CRYPTO_INVALID_DIGEST",
      unequal: "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH",
      subtle: createHash("sha256").update("x").digest("hex"),
    });
  });

  it("process - process.env is the function's env at the module's top level too; nextTick, global", async () => {
    const target = await edgeTarget(
      `import process from "node:process";
       const atLoad = process.env.GREETING;
       export default { async fetch() {
         const order: string[] = [];
         await new Promise<void>((resolve) => { process.nextTick(() => { order.push("tick"); resolve(); }); order.push("sync"); });
         return Response.json({ atLoad, now: process.env.GREETING, order, global: global === globalThis, fromGlobal: (globalThis as { process?: { env: Record<string, string> } }).process?.env.GREETING });
       } };`,
      { config: NODEJS, env: { GREETING: "hej" } },
    );
    const res = await invokeEdge(provider, target);
    expect(res.json()).toEqual({
      atLoad: "hej",
      now: "hej",
      order: ["sync", "tick"],
      global: true,
      fromGlobal: "hej",
    });
  });
});
