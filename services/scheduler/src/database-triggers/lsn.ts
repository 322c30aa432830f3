/**
 * PostgreSQL log sequence numbers ("16/B374D848"): the replication library hands them out as
 * strings, padded or not; compared and moved as 64-bit integers.
 */
export const Lsn = {
  parse(lsn: string): bigint {
    const [high, low] = lsn.split("/");
    return (BigInt(`0x${high || "0"}`) << 32n) | BigInt(`0x${low || "0"}`);
  },

  /** PostgreSQL's own spelling: upper-case hex halves without padding. */
  format(value: bigint): string {
    return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
  },

  normalize(lsn: string): string {
    return Lsn.format(Lsn.parse(lsn));
  },

  max(a: string, b: string): string {
    return Lsn.parse(a) >= Lsn.parse(b) ? Lsn.normalize(a) : Lsn.normalize(b);
  },

  /**
   * The library's `acknowledge(lsn)` reports `lsn + 1` as flushed, while PostgreSQL wants the end
   * of what was processed: a commit's end LSN is already one past its last byte, and the next
   * transaction's commit record may start exactly there. Acknowledging `end - 1` makes the library
   * report `end`, so a restart skips nothing it should send.
   */
  before(lsn: string): string {
    const value = Lsn.parse(lsn);
    return Lsn.format(value > 0n ? value - 1n : 0n);
  },
};
