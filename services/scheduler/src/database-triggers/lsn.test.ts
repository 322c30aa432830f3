import { describe, expect, it } from "vitest";
import { Lsn } from "./lsn.ts";
import { replicationName } from "./replication-names.ts";

describe("database triggers - lsn and names", () => {
  it("lsn - padded and unpadded spellings compare as 64-bit positions", () => {
    expect(Lsn.normalize("00000016/0B374D848".slice(1))).toBe("16/B374D848");
    expect(Lsn.parse("1/0") > Lsn.parse("0/FFFFFFFF")).toBe(true);
    expect(Lsn.max("0/16B3748", "00000000/016B3750")).toBe("0/16B3750");
  });

  it("lsn - acknowledging `before(end)` makes the library report exactly `end` across the 32-bit boundary", () => {
    expect(Lsn.before("1/0")).toBe("0/FFFFFFFF");
    expect(Lsn.before("16/B374D848")).toBe("16/B374D847");
    expect(Lsn.before("0/0")).toBe("0/0");
  });

  it("names - kumo_<trigger id>, a plain lower-case identifier of at most 63 characters", () => {
    expect(replicationName("trg_0mx7k3b94941f6be41930512a")).toBe("kumo_trg_0mx7k3b94941f6be41930512a");
    expect(replicationName("TRG-Ü".padEnd(80, "x"))).toMatch(/^kumo_trg__x+$/);
    expect(replicationName("a".repeat(80))).toHaveLength(63);
  });
});
