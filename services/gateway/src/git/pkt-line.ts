/** git's pkt-line framing (gitprotocol-common) and side-band channels (gitprotocol-pack). */

export const FLUSH_PKT = Buffer.from("0000");
/** Payload bytes per side-band-64k packet (65520 minus length and channel byte). */
const SIDEBAND_MAX = 65515;

export function pktLine(payload: string | Buffer): Buffer {
  const data = Buffer.from(payload);
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, "0")), data]);
}

/** Progress text on side-band channel 2: git prints it as "remote: ..." lines. */
export function sidebandProgress(text: string): Buffer {
  const data = Buffer.from(text);
  const packets: Buffer[] = [];
  for (let at = 0; at < data.length; at += SIDEBAND_MAX) {
    packets.push(pktLine(Buffer.concat([Buffer.from([2]), data.subarray(at, at + SIDEBAND_MAX)])));
  }
  return Buffer.concat(packets);
}

export interface RefUpdate {
  oldId: string;
  newId: string;
  ref: string;
}

/** The ref updates and capabilities at the start of a receive-pack request (before the pack). */
export function parseReceiveCommands(body: Buffer): { updates: RefUpdate[]; capabilities: string[] } {
  const updates: RefUpdate[] = [];
  let capabilities: string[] = [];
  let at = 0;
  while (at + 4 <= body.length) {
    const length = Number.parseInt(body.subarray(at, at + 4).toString("ascii"), 16);
    if (!Number.isFinite(length) || length === 0) break;
    if (length < 4 || at + length > body.length) break;
    let line = body.subarray(at + 4, at + length).toString("utf8");
    at += length;
    const nul = line.indexOf("\0");
    if (nul !== -1) {
      capabilities = line
        .slice(nul + 1)
        .trim()
        .split(" ");
      line = line.slice(0, nul);
    }
    const [oldId, newId, ref] = line.trim().split(" ");
    if (oldId && newId && ref) updates.push({ oldId, newId, ref });
  }
  return { updates, capabilities };
}
