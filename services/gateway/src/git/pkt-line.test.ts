import { describe, expect, it } from "vitest";
import { FLUSH_PKT, parseReceiveCommands, pktLine, sidebandProgress } from "./pkt-line.ts";

describe("git pkt-line", () => {
  it("git pkt-line - frames lines and progress on side-band channel 2", () => {
    expect(pktLine("# service=git-receive-pack\n").toString()).toBe("001f# service=git-receive-pack\n");
    const progress = sidebandProgress("hi\n");
    expect(progress.subarray(0, 4).toString()).toBe("0008");
    expect(progress[4]).toBe(2);
  });

  it("git pkt-line - reads the ref updates and capabilities of a push", () => {
    const a = "a".repeat(40);
    const b = "b".repeat(40);
    const body = Buffer.concat([
      pktLine(`${a} ${b} refs/heads/main\0report-status side-band-64k agent=git/2\n`),
      pktLine(`${"0".repeat(40)} ${a} refs/heads/dev\n`),
      FLUSH_PKT,
      Buffer.from("PACK...."),
    ]);
    const { updates, capabilities } = parseReceiveCommands(body);
    expect(updates).toEqual([
      { oldId: a, newId: b, ref: "refs/heads/main" },
      { oldId: "0".repeat(40), newId: a, ref: "refs/heads/dev" },
    ]);
    expect(capabilities).toContain("side-band-64k");
  });
});
