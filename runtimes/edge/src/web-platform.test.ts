import { sign as cryptoSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdgeProvider, type EdgeProvider } from "./edge-provider.ts";
import { edgeTarget, invokeEdge } from "./edge-test-kit.ts";

let provider: EdgeProvider;

beforeAll(async () => {
  provider = await createEdgeProvider({ hosts: 1 });
});
afterAll(async () => {
  await provider?.stop();
});

/**
 * The first use of a lazy global evaluates its library in that invocation. isolated-vm's entry
 * timeout is wall-clock, and this machine is shared: the conformance tests get CPU headroom so
 * they test behaviour, not the load average.
 */
const ROOMY = { cpuMs: 2000, timeoutMs: 10_000 } as const;

/** Runs `body` (the inside of an async function returning a JSON-able value) in an edge function. */
async function run<T = unknown>(body: string, init: Parameters<typeof invokeEdge>[2] = {}): Promise<T> {
  const target = await edgeTarget(
    `export default { async fetch(request: Request): Promise<Response> {
      const result = await (async () => { ${body} })();
      return Response.json(result ?? null);
    } };`,
    { config: ROOMY },
  );
  const res = await invokeEdge(provider, target, init);
  if (res.status !== 200) throw new Error(`status ${res.status}: ${res.text}`);
  return res.json<T>();
}

describe("edge web platform - streams", () => {
  it("streams - ReadableStream, TransformStream and WritableStream are globals that pipe", async () => {
    const out = await run(`
      const source = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); } });
      const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } });
      const seen: string[] = [];
      await source.pipeThrough(upper).pipeTo(new WritableStream({ write(chunk) { seen.push(chunk); } }));
      return { seen, strategies: typeof CountQueuingStrategy + typeof ByteLengthQueuingStrategy };
    `);
    expect(out).toEqual({ seen: ["A", "B"], strategies: "functionfunction" });
  });

  it("streams - request.body is a ReadableStream read with getReader(); bodyUsed follows", async () => {
    const out = await run(
      `
      const reader = request.body!.getReader();
      const parts: number[] = [];
      for (;;) { const { done, value } = await reader.read(); if (done) break; parts.push(value.byteLength); }
      let again = "";
      try { await request.text(); } catch (e) { again = (e as Error).name; }
      return { parts, used: request.bodyUsed, again, empty: new Response(null).body };
    `,
      { method: "POST", body: "hello stream" },
    );
    expect(out).toEqual({ parts: [12], used: true, again: "TypeError", empty: null });
  });

  it("streams - new Response(readableStream) is collected before it leaves the isolate", async () => {
    const target = await edgeTarget(
      `export default { fetch() {
      const enc = new TextEncoder();
      const { readable, writable } = new TransformStream();
      const writer = writable.getWriter();
      (async () => { for (const part of ["one ", "two ", "three"]) { await writer.write(enc.encode(part)); await new Promise((r) => setTimeout(r, 2)); } await writer.close(); })();
      return new Response(readable, { headers: { "content-type": "text/plain" } });
    } };`,
      { config: ROOMY },
    );
    const res = await invokeEdge(provider, target);
    expect([res.status, res.text]).toEqual([200, "one two three"]);
  });

  it("streams - a stream body over the limit is FN_010; a string chunk is a clear error", async () => {
    const big = await edgeTarget(
      `export default { fetch() {
        let n = 0;
        return new Response(new ReadableStream({ pull(c) { if (n++ < 100) c.enqueue(new Uint8Array(1024)); else c.close(); } }));
      } };`,
      { config: { ...ROOMY, maxBodyBytes: 10_000 } },
    );
    const res = await invokeEdge(provider, big);
    expect(res.result.error?.code ?? res.text).toMatch(/FN_010/);
    const text = await edgeTarget(
      `export default { fetch() {
      return new Response(new ReadableStream({ start(c) { c.enqueue("text"); c.close(); } }));
    } };`,
      { config: ROOMY },
    );
    const bad = await invokeEdge(provider, text);
    expect(bad.result.error?.code).toBe("FN_004");
    expect(bad.result.error?.message).toMatch(/chunks must be Uint8Array/);
  });

  it("streams - clone() of a stream body tees it; TextDecoderStream and TextEncoderStream", async () => {
    const out = await run(`
      const res = new Response(new Blob(["tee me"]).stream());
      const copy = res.clone();
      const decoded = await new Response("héllo").body!.pipeThrough(new TextDecoderStream()).getReader().read();
      const encoded = await new Response(new Response("x").body!.pipeThrough(new TextDecoderStream()).pipeThrough(new TextEncoderStream())).text();
      return [await res.text(), await copy.text(), decoded.value, encoded];
    `);
    expect(out).toEqual(["tee me", "tee me", "héllo", "x"]);
  });
});

describe("edge web platform - Blob, File, FormData", () => {
  it("blob - Blob and File: size, type, slice, text, arrayBuffer, stream; Response(blob)", async () => {
    const out = await run(`
      const blob = new Blob(["hello ", new Uint8Array([119, 111, 114, 108, 100])], { type: "text/plain" });
      const file = new File(["abc"], "a.txt", { type: "text/plain", lastModified: 42 });
      const res = new Response(blob);
      return { size: blob.size, type: blob.type, slice: await blob.slice(6).text(),
        bytes: (await blob.arrayBuffer()).byteLength, file: [file.name, file.size, file.lastModified, file instanceof Blob],
        body: await res.text(), ct: res.headers.get("content-type"), fromBody: await (await new Response("xyz").blob()).text() };
    `);
    expect(out).toEqual({
      size: 11,
      type: "text/plain",
      slice: "world",
      bytes: 11,
      file: ["a.txt", 3, 42, true],
      body: "hello world",
      ct: "text/plain",
      fromBody: "xyz",
    });
  });

  it("formdata - request.formData() parses multipart with a file and urlencoded bodies", async () => {
    const boundary = "----kumo-boundary";
    const body =
      `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhéllo\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="data.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\u0001\u0002\r\n\r\n` +
      `--${boundary}--\r\n`;
    const code = `
      const form = await request.formData();
      const upload = form.get("upload") as File;
      return { title: form.get("title"), name: upload.name, type: upload.type, bytes: [...new Uint8Array(await upload.arrayBuffer())] };
    `;
    const multipart = await run(code.replace("", ""), {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(multipart).toEqual({
      title: "héllo",
      name: "data.bin",
      type: "application/octet-stream",
      bytes: [1, 2, 13, 10],
    });
    const urlencoded = await run(`const f = await request.formData(); return [f.get("a"), f.getAll("b")];`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=1+2&b=x&b=%C3%A9",
    });
    expect(urlencoded).toEqual(["1 2", ["x", "é"]]);
  });

  it("formdata - a wrong content type is a TypeError naming what formData() accepts", async () => {
    const target = await edgeTarget(
      `export default { async fetch(r: Request) { await r.formData(); return new Response("no"); } };`,
    );
    const res = await invokeEdge(provider, target, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(res.result.error?.message).toMatch(
      /TypeError: Could not parse content as FormData.*multipart\/form-data/,
    );
  });

  it("formdata - new Response(formData) serializes multipart that formData() reads back", async () => {
    const out = await run(`
      const form = new FormData();
      form.append("name", "kumo");
      form.append("file", new File(["content"], "f.txt", { type: "text/plain" }));
      const res = new Response(form);
      const back = await res.formData();
      return { ct: res.headers.get("content-type")!.split(";")[0], name: back.get("name"), file: await (back.get("file") as File).text() };
    `);
    expect(out).toEqual({ ct: "multipart/form-data", name: "kumo", file: "content" });
  });
});

describe("edge web platform - events, abort, misc globals", () => {
  it("events - EventTarget dispatches Events; AbortController aborts with reason and onabort", async () => {
    const out = await run(`
      const target = new EventTarget();
      const seen: string[] = [];
      target.addEventListener("ping", (e) => seen.push(e.type));
      target.dispatchEvent(new Event("ping"));
      const controller = new AbortController();
      let fired = 0;
      controller.signal.onabort = () => fired++;
      controller.abort();
      const reason = controller.signal.reason;
      const any = AbortSignal.any([new AbortController().signal, AbortSignal.abort("why")]);
      let thrown = "";
      try { controller.signal.throwIfAborted(); } catch (e) { thrown = (e as Error).name; }
      return { seen, aborted: controller.signal.aborted, fired, reason: [reason.name, reason instanceof DOMException], any: any.reason, thrown };
    `);
    expect(out).toEqual({
      seen: ["ping"],
      aborted: true,
      fired: 1,
      reason: ["AbortError", true],
      any: "why",
      thrown: "AbortError",
    });
  });

  it("abort - AbortSignal.timeout fires TimeoutError; fetch with an aborted signal rejects with AbortError", async () => {
    const out = await run(`
      const signal = AbortSignal.timeout(5);
      await new Promise((resolve) => signal.addEventListener("abort", resolve));
      let fetchError = "";
      try { await fetch("http://example.invalid/", { signal: AbortSignal.abort() }); } catch (e) { fetchError = (e as Error).name; }
      const controller = new AbortController();
      const pending = fetch("http://10.255.255.1/", { signal: controller.signal }).then(() => "resolved", (e) => (e as Error).name);
      controller.abort();
      return { timeout: (signal.reason as Error).name, fetchError, midFlight: await pending };
    `);
    expect(out).toEqual({ timeout: "TimeoutError", fetchError: "AbortError", midFlight: "AbortError" });
  });

  it("globals - performance.now, navigator.userAgent, URLPattern, TextDecoder fatal and labels", async () => {
    const out = await run(`
      const t0 = performance.now();
      const pattern = new URLPattern({ pathname: "/users/:id" });
      const match = pattern.exec("https://x.test/users/42");
      let fatal = "";
      try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])); } catch (e) { fatal = (e as Error).name; }
      return { t: typeof t0 === "number" && t0 >= 0, ua: navigator.userAgent, id: match?.pathname.groups.id,
        test: pattern.test("https://x.test/posts/1"), fatal,
        latin1: new TextDecoder("latin1").decode(new Uint8Array([0xe9])),
        utf16: new TextDecoder("utf-16le").decode(new Uint8Array([0x68, 0, 0x69, 0])),
        bom: new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])),
        stream: (() => { const d = new TextDecoder(); return d.decode(new Uint8Array([0xc3]), { stream: true }) + d.decode(new Uint8Array([0xa9])); })() };
    `);
    expect(out).toEqual({
      t: true,
      ua: "Kumo/edge",
      id: "42",
      test: false,
      fatal: "TypeError",
      latin1: "é",
      utf16: "hi",
      bom: "a",
      stream: "é",
    });
  });
});

describe("edge web platform - compression", () => {
  it("compression - gzip, deflate and deflate-raw round-trip; corrupt input is a TypeError", async () => {
    const out = await run(`
      const text = "kumo ".repeat(200);
      const results: Record<string, unknown> = {};
      for (const format of ["gzip", "deflate", "deflate-raw"] as const) {
        const compressed = await new Response(new Response(text).body!.pipeThrough(new CompressionStream(format))).arrayBuffer();
        const back = await new Response(new Response(compressed).body!.pipeThrough(new DecompressionStream(format))).text();
        results[format] = [compressed.byteLength < text.length, back === text];
      }
      const gz = new Uint8Array(await new Response(new Response(text).body!.pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
      let truncated = "";
      try { await new Response(new Response(gz.slice(0, 10)).body!.pipeThrough(new DecompressionStream("gzip"))).text(); } catch (e) { truncated = (e as Error).name; }
      let unknown = "";
      try { new CompressionStream("brotli" as never); } catch (e) { unknown = (e as Error).message; }
      return { results, magic: [gz[0], gz[1]], truncated, unknown };
    `);
    expect(out).toEqual({
      results: { gzip: [true, true], deflate: [true, true], "deflate-raw": [true, true] },
      magic: [0x1f, 0x8b],
      truncated: "TypeError",
      unknown: expect.stringMatching(/Unsupported compression format "brotli"/),
    });
  });
});

/** A compact JWS signed here with Node's crypto, verified inside the isolate. */
function signJwt(alg: "RS256" | "ES256", privateKey: KeyObject, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${part({ alg, typ: "JWT" })}.${part(claims)}`;
  const signature = cryptoSign(
    "sha256",
    Buffer.from(input),
    alg === "ES256" ? { key: privateKey, dsaEncoding: "ieee-p1363" } : privateKey,
  );
  return `${input}.${signature.toString("base64url")}`;
}

const VERIFY_JWT = `
  const { token, jwk, alg } = await request.json() as { token: string; jwk: JsonWebKey; alg: string };
  const params = alg === "RS256" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } : { name: "ECDSA", namedCurve: "P-256" };
  const key = await crypto.subtle.importKey("jwk", jwk, params, false, ["verify"]);
  const [h, p, s] = token.split(".");
  const b64 = (t: string) => Uint8Array.from(atob(t.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const verifyParams = alg === "RS256" ? params : { name: "ECDSA", hash: "SHA-256" };
  const ok = await crypto.subtle.verify(verifyParams, key, b64(s), new TextEncoder().encode(h + "." + p));
  const tampered = await crypto.subtle.verify(verifyParams, key, b64(s), new TextEncoder().encode(h + "." + p + "x"));
  return { ok, tampered, sub: JSON.parse(new TextDecoder().decode(b64(p))).sub, type: key.type, alg: key.algorithm.name };
`;

describe("edge web platform - crypto.subtle", () => {
  it("crypto - RS256 and ES256 JWTs signed outside verify inside; tampering fails", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    for (const [alg, pair] of [
      ["RS256", rsa],
      ["ES256", ec],
    ] as const) {
      const token = signJwt(alg, pair.privateKey, { sub: `user-${alg}` });
      const jwk = pair.publicKey.export({ format: "jwk" });
      const out = await run(VERIFY_JWT, { method: "POST", body: JSON.stringify({ token, jwk, alg }) });
      expect(out).toEqual({
        ok: true,
        tampered: false,
        sub: `user-${alg}`,
        type: "public",
        alg: alg === "RS256" ? "RSASSA-PKCS1-v1_5" : "ECDSA",
      });
    }
  });

  it("crypto - AES-GCM, ECDSA, RSA-PSS, Ed25519 and HMAC generateKey round trips; spki/pkcs8/raw import", async () => {
    const ed = generateKeyPairSync("ed25519");
    const out = await run(
      `
      const { spki, pkcs8 } = await request.json() as { spki: string; pkcs8: string };
      const der = (b: string) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
      const data = new TextEncoder().encode("kumo");
      const aes = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, aes, data);
      const opened = new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, aes, sealed));
      const raw = await crypto.subtle.exportKey("raw", aes);
      const again = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
      const opened2 = new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, again, sealed));
      let badTag = "";
      try { await crypto.subtle.decrypt({ name: "AES-GCM", iv }, aes, new Uint8Array(sealed).fill(0)); } catch (e) { badTag = (e as Error).name; }
      const ecdsa = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
      const ecSig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ecdsa.privateKey, data);
      const ecRaw = await crypto.subtle.exportKey("raw", ecdsa.publicKey);
      const ecPub = await crypto.subtle.importKey("raw", ecRaw, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
      const pss = await crypto.subtle.generateKey({ name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign", "verify"]);
      const pssSig = await crypto.subtle.sign({ name: "RSA-PSS", saltLength: 32 }, pss.privateKey, data);
      const edPriv = await crypto.subtle.importKey("pkcs8", der(pkcs8), "Ed25519", false, ["sign"]);
      const edPub = await crypto.subtle.importKey("spki", der(spki), "Ed25519", true, ["verify"]);
      const edSig = await crypto.subtle.sign("Ed25519", edPriv, data);
      const hmacKey = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
      const hmacSig = await crypto.subtle.sign("HMAC", hmacKey, data);
      const localHmac = await crypto.subtle.importKey("raw", new Uint8Array(await crypto.subtle.exportKey("raw", hmacKey)), { name: "HMAC", hash: "SHA-256" }, true, ["verify"]);
      let notExtractable = "";
      try { await crypto.subtle.exportKey("jwk", pss.privateKey); } catch (e) { notExtractable = (e as Error).name; }
      return {
        aes: [opened, opened2, badTag, raw.byteLength, (aes.algorithm as { length: number }).length],
        ecdsa: [await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ecPub, ecSig, data), ecSig.byteLength],
        pss: await crypto.subtle.verify({ name: "RSA-PSS", saltLength: 32 }, pss.publicKey, pssSig, data),
        ed25519: [await crypto.subtle.verify("Ed25519", edPub, edSig, data), (await crypto.subtle.exportKey("jwk", edPub)).crv],
        hmac: [await crypto.subtle.verify("HMAC", localHmac, hmacSig, data), (await crypto.subtle.exportKey("jwk", localHmac)).alg],
        notExtractable,
      };
    `,
      {
        method: "POST",
        body: JSON.stringify({
          spki: ed.publicKey.export({ format: "der", type: "spki" }).toString("base64"),
          pkcs8: ed.privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"),
        }),
      },
    );
    expect(out).toEqual({
      aes: ["kumo", "kumo", "OperationError", 32, 256],
      ecdsa: [true, 64],
      pss: true,
      ed25519: [true, "Ed25519"],
      hmac: [true, "HS256"],
      notExtractable: "InvalidAccessError",
    });
  });

  it("crypto - RSA-OAEP, AES-CBC, AES-KW wrapKey, ECDH and X25519 deriveBits, HKDF and PBKDF2", async () => {
    const out = await run(`
      const s = crypto.subtle;
      const data = new TextEncoder().encode("kumo");
      const oaep = await s.generateKey({ name: "RSA-OAEP", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["encrypt", "decrypt"]);
      const oaepText = new TextDecoder().decode(await s.decrypt({ name: "RSA-OAEP" }, oaep.privateKey, await s.encrypt({ name: "RSA-OAEP" }, oaep.publicKey, data)));
      const cbc = await s.generateKey({ name: "AES-CBC", length: 128 }, true, ["encrypt", "decrypt"]);
      const iv = new Uint8Array(16);
      const cbcText = new TextDecoder().decode(await s.decrypt({ name: "AES-CBC", iv }, cbc, await s.encrypt({ name: "AES-CBC", iv }, cbc, data)));
      const kek = await s.generateKey({ name: "AES-KW", length: 256 }, false, ["wrapKey", "unwrapKey"]);
      const wrapped = await s.wrapKey("raw", cbc, kek, "AES-KW");
      const unwrapped = await s.unwrapKey("raw", wrapped, kek, "AES-KW", "AES-CBC", true, ["decrypt"]);
      const sameKey = new Uint8Array(await s.exportKey("raw", unwrapped)).join() === new Uint8Array(await s.exportKey("raw", cbc)).join();
      const a = await s.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
      const b = await s.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
      const ab = new Uint8Array(await s.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 256)).join();
      const ba = new Uint8Array(await s.deriveBits({ name: "ECDH", public: a.publicKey }, b.privateKey, 256)).join();
      const x = await s.generateKey({ name: "X25519" }, false, ["deriveBits"]);
      const y = await s.generateKey({ name: "X25519" }, false, ["deriveBits"]);
      const xy = new Uint8Array(await s.deriveBits({ name: "X25519", public: y.publicKey }, x.privateKey, 256)).join();
      const yx = new Uint8Array(await s.deriveBits({ name: "X25519", public: x.publicKey }, y.privateKey, 256)).join();
      const ikm = await s.importKey("raw", data, "HKDF", false, ["deriveBits"]);
      const hkdf = await s.deriveBits({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(8), info: new Uint8Array(0) }, ikm, 128);
      const pw = await s.importKey("raw", data, "PBKDF2", false, ["deriveKey"]);
      const derived = await s.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(8), iterations: 1000 }, pw, { name: "AES-GCM", length: 256 }, false, ["encrypt"]);
      let tooMany = "";
      try { await s.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(8), iterations: 10_000_000 }, pw, 256); } catch (e) { tooMany = (e as Error).name; }
      return { oaepText, cbcText, sameKey, ecdh: ab === ba, x25519: xy === yx, hkdf: hkdf.byteLength, derived: derived.algorithm.name, tooMany };
    `);
    expect(out).toEqual({
      oaepText: "kumo",
      cbcText: "kumo",
      sameKey: true,
      ecdh: true,
      x25519: true,
      hkdf: 16,
      derived: "AES-GCM",
      tooMany: "NotSupportedError",
    });
  });

  it("crypto - timingSafeEqual, DOMException names and codes, unsupported algorithms, host limits", async () => {
    const out = await run(`
      const eq = crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]));
      const ne = crypto.subtle.timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]));
      let lengths = "";
      try { crypto.subtle.timingSafeEqual(new Uint8Array(1), new Uint8Array(2)); } catch (e) { lengths = (e as Error).name; }
      const names: string[] = [];
      for (const attempt of [
        () => crypto.subtle.generateKey({ name: "NOPE" }, false, ["sign"]),
        () => crypto.subtle.importKey("jwk", { kty: "RSA" }, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]),
        () => crypto.subtle.generateKey({ name: "RSASSA-PKCS1-v1_5", modulusLength: 8192, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, false, ["sign"]),
      ]) {
        try { await attempt(); names.push("resolved"); } catch (e) { names.push((e as Error).name + ":" + ((e as DOMException).code ?? "")); }
      }
      let atobError = "";
      try { atob("*"); } catch (e) { atobError = (e as DOMException).name + ":" + (e as DOMException).code; }
      return { eq, ne, lengths, names, atobError };
    `);
    expect(out).toEqual({
      eq: true,
      ne: false,
      lengths: "TypeError",
      names: ["NotSupportedError:9", "DataError:0", "NotSupportedError:9"],
      atobError: "InvalidCharacterError:5",
    });
  });
});

describe("edge web platform - gaps found by bench/wpt.bench.ts", () => {
  it("encoding - TextEncoder takes a USVString, defaults to empty and has encodeInto", async () => {
    const out = await run(`
      const enc = new TextEncoder();
      const bytes = (s?: string) => Array.from(s === undefined ? enc.encode() : enc.encode(s));
      const into = new Uint8Array(5);
      const first = enc.encodeInto("a\\u00e9\\u{1F600}", into);
      const lone = new Uint8Array(8);
      const second = enc.encodeInto("x\\uD800y", lone);
      return {
        empty: bytes(),
        lead: bytes("a\\uD800b"),
        trail: bytes("\\uDC00"),
        pair: bytes("\\u{1F600}"),
        swapped: bytes("\\uDC00\\uD800"),
        first, into: Array.from(into),
        second, lone: Array.from(lone.subarray(0, second.written)),
        encoding: enc.encoding,
      };
    `);
    expect(out).toEqual({
      empty: [],
      lead: [0x61, 0xef, 0xbf, 0xbd, 0x62],
      trail: [0xef, 0xbf, 0xbd],
      pair: [0xf0, 0x9f, 0x98, 0x80],
      swapped: [0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd],
      // The emoji (4 bytes) does not fit after "a" and "é" (3 bytes): it is not written, nor read.
      first: { read: 2, written: 3 },
      into: [0x61, 0xc3, 0xa9, 0, 0],
      second: { read: 3, written: 5 },
      lone: [0x78, 0xef, 0xbf, 0xbd, 0x79],
      encoding: "utf-8",
    });
  });

  it("blob - Blob and File have bytes(), a Uint8Array of their contents", async () => {
    const out = await run(`
      const blob = await new Blob(["hé"]).bytes();
      const file = await new File([new Uint8Array([1, 2, 3])], "f.bin").bytes();
      return { blob: [blob.constructor.name, ...blob], file: [file.constructor.name, ...file] };
    `);
    expect(out).toEqual({ blob: ["Uint8Array", 0x68, 0xc3, 0xa9], file: ["Uint8Array", 1, 2, 3] });
  });

  it("events - CustomEvent is an Event with detail, dispatched like any other", async () => {
    const out = await run(`
      const target = new EventTarget();
      let seen: unknown = "none";
      target.addEventListener("ping", (e) => { seen = (e as CustomEvent).detail; });
      const event = new CustomEvent("ping", { detail: { n: 1 } });
      target.dispatchEvent(event);
      return { seen, isEvent: event instanceof Event, bare: new CustomEvent("x").detail, tag: String(event) };
    `);
    expect(out).toEqual({ seen: { n: 1 }, isEvent: true, bare: null, tag: "[object CustomEvent]" });
  });

  it("fetch - Response.error() type, statusText as a reason phrase, absolute redirect URLs, null bodies stay unused", async () => {
    const out = await run(`
      const name = (f: () => unknown) => { try { f(); return "ok"; } catch (e) { return (e as Error).name; } };
      const empty = new Response(null);
      const text = await empty.text();
      return {
        error: [Response.error().type, Response.error().status, Response.error().clone().type, new Response("x").type],
        statusText: [name(() => new Response("", { statusText: "\\n" })), name(() => new Response("", { statusText: "\\u0100" })), new Response("", { statusText: "Fine \\u00e9" }).statusText],
        redirect: [name(() => Response.redirect("http://:not a url")), name(() => Response.redirect("/relative")), Response.redirect("https://example.com/a b", 301).headers.get("location")],
        empty: [text, empty.bodyUsed],
      };
    `);
    expect(out).toEqual({
      error: ["error", 0, "error", "default"],
      statusText: ["TypeError", "TypeError", "Fine é"],
      redirect: ["TypeError", "TypeError", "https://example.com/a%20b"],
      empty: ["", false],
    });
  });

  it("fetch - a body stream read, cancelled or piped makes the body used; a consumed body's stream is locked", async () => {
    const out = await run(`
      const name = async (f: () => unknown) => { try { await f(); return "ok"; } catch (e) { return (e as Error).name; } };
      const cancelled = new Response("abc");
      await cancelled.body!.cancel();
      const read = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1])); } }));
      const reader = read.body!.getReader();
      await reader.read();
      reader.releaseLock();
      const piped = new Response("abc");
      piped.body!.pipeTo(new WritableStream()).catch(() => undefined);
      const consumed = new Response("abc");
      await consumed.text();
      const disturbed = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1])); } });
      const r2 = disturbed.getReader();
      await r2.read();
      r2.releaseLock();
      return {
        cancelled: [cancelled.bodyUsed, await name(() => cancelled.text())],
        read: [read.bodyUsed, await name(() => read.arrayBuffer())],
        piped: piped.bodyUsed,
        consumed: [consumed.body!.locked, await name(() => consumed.body!.getReader())],
        fromDisturbed: await name(() => new Response(disturbed)),
        fresh: [new Response("x").bodyUsed, await new Response("x").text()],
      };
    `);
    expect(out).toEqual({
      cancelled: [true, "TypeError"],
      read: [true, "TypeError"],
      piped: true,
      consumed: [true, "TypeError"],
      fromDisturbed: "TypeError",
      fresh: [false, "x"],
    });
  });

  it("abort - AbortSignal.any() follows the original signals: events fire in creation order after all abort", async () => {
    const out = await run(`
      const controller = new AbortController();
      const a = AbortSignal.any([controller.signal]);
      const b = AbortSignal.any([controller.signal]);
      const c = AbortSignal.any([a]);
      let order = "";
      let abortedWhenFirstFired: boolean[] = [];
      for (const [i, s] of [controller.signal, a, b, c].entries()) {
        s.addEventListener("abort", () => {
          if (order === "") abortedWhenFirstFired = [a.aborted, b.aborted, c.aborted];
          order += i;
        });
      }
      controller.abort("why");
      return { order, abortedWhenFirstFired, reason: c.reason };
    `);
    expect(out).toEqual({ order: "0123", abortedWhenFirstFired: [true, true, true], reason: "why" });
  });

  it("events - addEventListener refuses a signal that is not an AbortSignal (null included)", async () => {
    const out = await run(`
      const target = new EventTarget();
      const name = (f: () => unknown) => { try { f(); return "ok"; } catch (e) { return (e as Error).name; } };
      return [
        name(() => target.addEventListener("x", () => {}, { signal: null as unknown as AbortSignal })),
        name(() => target.addEventListener("x", () => {}, { signal: {} as AbortSignal })),
        name(() => target.addEventListener("x", () => {}, { signal: undefined })),
        name(() => target.addEventListener("x", () => {}, { signal: new AbortController().signal })),
        EventTarget.prototype.addEventListener.length,
      ];
    `);
    expect(out).toEqual(["TypeError", "TypeError", "ok", "ok", 2]);
  });

  it("crypto - a raw HMAC key with no usages is a SyntaxError; getRandomValues refuses a DataView", async () => {
    const out = await run(`
      const key = new Uint8Array(16);
      const name = async (f: () => unknown) => { try { await f(); return "ok"; } catch (e) { return (e as Error).name; } };
      return [
        await name(() => crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [])),
        await name(() => crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])),
        await name(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4)) as unknown as Uint8Array)),
      ];
    `);
    expect(out).toEqual(["SyntaxError", "ok", "TypeMismatchError"]);
  });

  it("fetch - a Blob body is a byte stream (BYOB readers work); Object.prototype.then cannot change what a body reads", async () => {
    const out = await run(`
      const reader = new Response(new Blob(["hello"])).body!.getReader({ mode: "byob" });
      let got = "";
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(2));
        if (done) break;
        got += new TextDecoder().decode(value);
      }
      const planted = new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("hello")); c.close(); } }));
      const proto = Object.prototype as unknown as { then?: unknown };
      proto.then = (onFulfilled: (v: unknown) => void) => { delete proto.then; onFulfilled({ done: false, value: new TextEncoder().encode("bye") }); };
      let text = "";
      try { text = await planted.text(); } finally { delete proto.then; }
      return { got, text };
    `);
    expect(out).toEqual({ got: "hello", text: "hello" });
  });

  it("globals - web platform classes keep their names in the minified bootstrap (constructor.name)", async () => {
    const out = await run(`
      const names = ["Response", "Request", "Headers", "URL", "URLSearchParams", "ReadableStream", "Blob", "File", "FormData", "Event", "AbortSignal", "TextEncoder", "TextDecoder", "DOMException"];
      const g = globalThis as unknown as Record<string, { name: string }>;
      const wrong = names.filter((n) => g[n]?.name !== n);
      const form = new FormData();
      form.set("f", new Blob(["x"]));
      return { wrong, fromForm: (form.get("f") as File).constructor.name, response: new Response("").constructor.name };
    `);
    expect(out).toEqual({ wrong: [], fromForm: "File", response: "Response" });
  });
});
