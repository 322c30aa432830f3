import { describe, expect, it } from "vitest";
import { matchedPrefix } from "./matched-prefix.ts";

describe("matchedPrefix", () => {
  it("matched prefix - the path minus what the wildcard matched, without a trailing slash", () => {
    expect(matchedPrefix("/api/items/7", "items/7")).toBe("/api");
    expect(matchedPrefix("/api/", "")).toBe("/api");
    expect(matchedPrefix("/users/42", "")).toBe("/users/42");
    expect(matchedPrefix("/some/where", "some/where")).toBe("");
    expect(matchedPrefix("/", "")).toBe("");
    expect(matchedPrefix("/a%20b/c", "c")).toBe("/a%20b");
  });

  it("matched prefix - repeated slashes count as one, as the route trie reads them", () => {
    expect(matchedPrefix("//api//items/7", "items/7")).toBe("//api");
    expect(matchedPrefix("/api//items//7", "items/7")).toBe("/api");
  });
});
