import { describe, expect, it } from "vitest";
import { Output } from "../../packages/cli/src/output.ts";
import { Progress } from "../../packages/cli/src/progress.ts";

function sink(isTTY: boolean): {
  stream: { write(chunk: string | Uint8Array): boolean; isTTY: boolean };
  text(): string;
} {
  let text = "";
  return {
    stream: {
      isTTY,
      write(chunk) {
        text += String(chunk);
        return true;
      },
    },
    text: () => text,
  };
}

describe("output - modes", () => {
  it("prints tables for people and the value as JSON with --json", () => {
    const rows = [
      { name: "a", n: 1 },
      { name: "longer", n: 22 },
    ];
    const columns = [
      { header: "NAME", value: (r: { name: string }) => r.name },
      { header: "N", value: (r: { n: number }) => String(r.n) },
    ];
    const human = sink(false);
    const out = new Output(human.stream, sink(false).stream, { json: false });
    out.result(rows, () => out.table(rows, columns));
    expect(human.text()).toBe("NAME    N\na       1\nlonger  22\n");

    const json = sink(false);
    const jsonOut = new Output(json.stream, sink(false).stream, { json: true });
    jsonOut.result(rows, () => jsonOut.table(rows, columns));
    expect(JSON.parse(json.text())).toEqual(rows);
  });
});

describe("output - progress", () => {
  it("prints plain lines without control characters off a terminal", () => {
    const err = sink(false);
    const progress = new Progress(err.stream);
    progress.start("Building");
    progress.log("  │ step");
    progress.done("Built");
    expect(err.text()).toBe("Building...\n  │ step\nBuilt\n");
  });

  it("draws a spinner on a terminal and clears it before log lines", () => {
    const err = sink(true);
    const progress = new Progress(err.stream);
    progress.start("Building");
    progress.log("step");
    progress.done("Built");
    expect(err.text()).toContain("\r\x1b[2K");
    expect(err.text()).toContain("Building");
    expect(err.text().endsWith("\r\x1b[2KBuilt\n")).toBe(true);
  });
});
