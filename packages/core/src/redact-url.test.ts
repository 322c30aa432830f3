import { describe, expect, it } from "vitest";
import { redactUrl } from "./redact-url.ts";

describe("redactUrl", () => {
  it("hides a password (a git token), keeps the rest, and leaves what is not a URL as it is", () => {
    expect(redactUrl("https://kumo:ghp_secret@git.example.com/a/b.git")).toBe(
      "https://kumo:***@git.example.com/a/b.git",
    );
    expect(redactUrl("https://git.example.com/a/b.git")).toBe("https://git.example.com/a/b.git");
    expect(redactUrl("not a url")).toBe("not a url");
  });
});
