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

  it("step error lines - a failed install script ends with the script's own error, not npm's \"command failed\"", () => {
    const output = [
      "npm error code 1",
      "npm error path /build/node_modules/native-thing",
      "npm error command failed",
      "npm error command sh -c node build.js",
      "npm error /build/node_modules/native-thing/build.js:1",
      'npm error throw new Error("no C compiler found (cc)")',
      "npm error ^",
      "npm error",
      "npm error Error: no C compiler found (cc)",
      "npm error     at Object.<anonymous> (/build/node_modules/native-thing/build.js:1:7)",
      "npm error     at Module._compile (node:internal/modules/cjs/loader:1554:14)",
      "npm error",
      "npm error Node.js v24.21.0",
      "npm error A complete log of this run can be found in: /root/.npm/_logs/x.log",
    ];
    expect(stepErrorLines(output)).toEqual([
      "npm error path /build/node_modules/native-thing",
      "npm error command sh -c node build.js",
      "Error: no C compiler found (cc)",
    ]);
  });
});
