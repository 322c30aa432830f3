import { describe, expect, it } from "vitest";
import { parseRoutePattern } from "./route-pattern.ts";
import { RouteTrie } from "./route-trie.ts";

function trie(routes: [string, string][]): RouteTrie<string> {
  const t = new RouteTrie<string>();
  for (const [method, path] of routes) t.add(method, parseRoutePattern(path).segments, `${method} ${path}`);
  return t;
}

describe("route trie", () => {
  it("route trie - static beats param beats wildcard, segment by segment", () => {
    const t = trie([
      ["GET", "/users/me"],
      ["GET", "/users/:id"],
      ["GET", "/users/*"],
      ["GET", "/users/:id/posts/:post"],
      ["GET", "/*"],
    ]);
    expect(t.match("GET", "/users/me")?.value).toBe("GET /users/me");
    expect(t.match("GET", "/users/42")).toEqual({ value: "GET /users/:id", params: { id: "42" }, rest: "" });
    expect(t.match("GET", "/users/42/posts/7")).toMatchObject({
      value: "GET /users/:id/posts/:post",
      params: { id: "42", post: "7" },
    });
    expect(t.match("GET", "/users/42/other")).toEqual({
      value: "GET /users/*",
      params: {},
      rest: "42/other",
    });
    expect(t.match("GET", "/nothing/here")).toEqual({ value: "GET /*", params: {}, rest: "nothing/here" });
    expect(t.match("GET", "/")).toEqual({ value: "GET /*", params: {}, rest: "" });
  });

  it("route trie - a method mismatch falls back to a less specific route", () => {
    const t = trie([
      ["GET", "/users/me"],
      ["POST", "/users/:id"],
      ["ANY", "/users/:id/*"],
    ]);
    expect(t.match("POST", "/users/me")?.value).toBe("POST /users/:id");
    expect(t.match("DELETE", "/users/me")).toMatchObject({
      value: "ANY /users/:id/*",
      params: { id: "me" },
      rest: "",
    });
    expect(t.match("HEAD", "/users/me")?.value).toBe("GET /users/me");
    expect(t.match("get", "/users/me")?.value).toBe("GET /users/me");
    expect(t.match("GET", "/other")).toBeUndefined();
  });

  it("route trie - trailing slashes, empty segments, queries and percent-encoding", () => {
    const t = trie([
      ["GET", "/files/:name/*"],
      ["GET", "/a/b"],
    ]);
    expect(t.match("GET", "/a/b/")?.value).toBe("GET /a/b");
    expect(t.match("GET", "//a//b?x=1")?.value).toBe("GET /a/b");
    expect(t.match("GET", "/files/my%20doc/x%2Fy/z?q")).toEqual({
      value: "GET /files/:name/*",
      params: { name: "my doc" },
      rest: "x%2Fy/z",
    });
    expect(t.match("GET", "/files/%E0%A4%A/x")?.params).toEqual({ name: "%E0%A4%A" });
  });

  it("route trie - params with different names at one position keep their own names", () => {
    const t = trie([
      ["GET", "/o/:org"],
      ["GET", "/o/:owner/repos/:repo"],
    ]);
    expect(t.match("GET", "/o/acme")?.params).toEqual({ org: "acme" });
    expect(t.match("GET", "/o/acme/repos/kumo")?.params).toEqual({ owner: "acme", repo: "kumo" });
  });
});

describe("route pattern", () => {
  it("route pattern - keys ignore param names, so equivalent patterns collide", () => {
    expect(parseRoutePattern("/users/:id/*").key).toBe("/users/:/*");
    expect(parseRoutePattern("/users/:uid/*").key).toBe(parseRoutePattern("/users//:x/*").key);
    expect(parseRoutePattern("/").key).toBe("/");
  });

  it("route pattern - invalid patterns are FN_006 saying why", () => {
    for (const [path, message] of [
      ["users", /start with/],
      ["/a/*/b", /last segment/],
      ["/:1x", /parameter/],
      ["/:id/:id", /twice/],
      ["/a b", /characters/],
      ["/../x", /characters/],
      ["/a*", /characters/],
    ] as const) {
      expect(() => parseRoutePattern(path), path).toThrow(message);
      try {
        parseRoutePattern(path);
      } catch (error) {
        expect((error as { code: string }).code).toBe("FN_006");
      }
    }
  });
});
