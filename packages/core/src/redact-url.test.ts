import { describe, expect, it } from "vitest";
import { redactUrl } from "./redact-url.ts";

describe("redactUrl", () => {
  it("hides a password or a lone user name (a git token), keeps the rest, and leaves what is not a URL as it is", () => {
    expect(redactUrl("https://kumo:ghp_secret@git.example.com/a/b.git")).toBe(
      "https://kumo:***@git.example.com/a/b.git",
    );
    expect(redactUrl("http://kumo_k3y@127.0.0.1:8080/git/t/f.git")).toBe(
      "http://***@127.0.0.1:8080/git/t/f.git",
    );
    expect(redactUrl("https://git.example.com/a/b.git")).toBe("https://git.example.com/a/b.git");
    expect(redactUrl("not a url")).toBe("not a url");
  });
});
