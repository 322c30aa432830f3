import { describe, expect, it } from "vitest";
import { capInvocationLines, InvocationLogCap, LOG_TRUNCATED_MARK } from "./invocation-log-cap.ts";
import { structureLogLine } from "./log-line.ts";

describe("log lines", () => {
  it("log line - a JSON object keeps its fields and its own level; other text stays plain", () => {
    expect(structureLogLine("info", '{"level":"warning","msg":"m","n":1}')).toEqual({
      level: "warn",
      message: '{"level":"warning","msg":"m","n":1}',
      fields: { level: "warning", msg: "m", n: 1 },
    });
    expect(structureLogLine("info", '{"level":50,"msg":"pino"}').level).toBe("error");
    expect(structureLogLine("error", '{"severity":"DEBUG"}').level).toBe("debug");
    expect(structureLogLine("error", '{"msg":"no level"}').level).toBe("error");
    expect(structureLogLine("info", '{"level":"chatty"}').level).toBe("info");
    for (const text of ["plain", "[1,2]", "{not json}", '"{}"', "{"])
      expect(structureLogLine("warn", text)).toEqual({ level: "warn", message: text, fields: null });
  });

  it("log cap - lines are kept up to the cap, the crossing line is cut, one marker, then nothing", () => {
    const line = (message: string) => ({ level: "info" as const, message, fields: null });
    const kept = capInvocationLines("inv", [line("a".repeat(6)), line("b".repeat(6)), line("c")], 10);
    expect(kept.map((l) => l.message.slice(0, 6))).toEqual(["aaaaaa", "bbbb", "[kumo]"]);
    expect(kept[2]?.fields).toEqual({ kumo: LOG_TRUNCATED_MARK, capBytes: 10 });
  });

  it("log cap - a cut never splits a UTF-8 character; other invocations and id-less lines are apart", () => {
    const cap = new InvocationLogCap(5, { now: 0 });
    // "€" is 3 bytes: 4 bytes hold "ab" and part of one, which is left out.
    const [cut] = new InvocationLogCap(4).admit("a", { level: "info", message: "ab€€", fields: null });
    expect(cut?.message).toBe("ab");
    const [whole] = cap.admit("a", { level: "info", message: "ab€€", fields: null }, 0);
    expect(whole?.message).toBe("ab€");
    expect(cap.admit("a", { level: "info", message: "x", fields: null }, 0)).toEqual([]);
    expect(cap.admit("b", { level: "info", message: "12345", fields: null }, 0)).toHaveLength(1);
    expect(cap.admit(null, { level: "info", message: "z".repeat(50), fields: null }, 0)).toHaveLength(1);
  });

  it("log cap - counts of invocations not heard from for two periods are forgotten", () => {
    const cap = new InvocationLogCap(4, { forgetAfterMs: 1000, now: 0 });
    const line = { level: "info" as const, message: "1234", fields: null };
    expect(cap.admit("a", line, 0)).toHaveLength(1);
    // Full: only the marker, then nothing, also across one swap of the maps.
    expect(cap.admit("a", line, 500).map((l) => l.fields?.kumo)).toEqual([LOG_TRUNCATED_MARK]);
    expect(cap.admit("a", line, 1500)).toHaveLength(0);
    // Not heard from for two periods: forgotten, counted afresh.
    expect(cap.admit("b", line, 2600)).toHaveLength(1);
    expect(cap.admit("a", line, 3700)).toHaveLength(1);
  });
});
