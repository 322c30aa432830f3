import { describe, expect, it } from "vitest";
import { plainLine, stepErrorLines } from "./step-error-lines.ts";

describe("step error lines", () => {
  it("step error lines - npm's own error lines, without colours or the hollow ones", () => {
    const output = [
      "\u001b[91mnpm error code E404",
      "\u001b[0m",
      "\u001b[91mnpm error 404",
      "npm error 404 Not Found - GET https://registry.npmjs.org/kumo-nope - Not found",
      "npm error 404  The requested resource 'kumo-nope@*' could not be found",
      "npm error A complete log of this run can be found in: /root/.npm/_logs/x.log",
    ];
    expect(stepErrorLines(output)).toEqual([
      "npm error code E404",
      "npm error 404 Not Found - GET https://registry.npmjs.org/kumo-nope - Not found",
      "npm error 404  The requested resource 'kumo-nope@*' could not be found",
    ]);
    expect(plainLine("\u001b[91mnpm error code E404 ")).toBe("npm error code E404");
  });

  it("step error lines - pip, bun and compiler errors; nothing for output without one", () => {
    expect(stepErrorLines(["Collecting nope", "ERROR: No matching distribution found for nope"])).toEqual([
      "ERROR: No matching distribution found for nope",
    ]);
    expect(stepErrorLines(["bun install v1.2", 'error: package "nope" not found'])).toEqual([
      'error: package "nope" not found',
    ]);
    expect(stepErrorLines(["# function", "./handler.go:3:15: syntax error: unexpected {"])).toEqual([
      "./handler.go:3:15: syntax error: unexpected {",
    ]);
    expect(stepErrorLines(["Step 3/5 : RUN make", "make: nothing to do"])).toEqual([]);
  });
});
