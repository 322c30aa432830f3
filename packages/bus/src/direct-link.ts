import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket, connect as unixConnect } from "node:net";
import { dirname } from "node:path";

/**
 * A direct link between a gateway and an autoscaler node on the same machine: NATS-shaped messages
 * (subject, reply subject, data) over one unix socket, for the sync invocation plane's request and
 * reply frames. Through nats-server a sync container call costs two more process hand-offs each
 * way (~0.3-0.6 ms of a warm call on a 2-core VM); the link carries the same frames point to point.
 * Subjects keep their meaning: the node answers on the reply subject the request named, whichever
 * way it came, and everything else (cancels, body pulls, hand-overs) stays on NATS.
 *
 * Wire format, every frame: u32 length of the rest, u16 subject length, subject, u16 reply length,
 * reply, data. The node's first frame is a hello naming itself (subject HELLO, data its bus
 * namespace and node id), so a gateway never sends invocations to a socket that is not the node it
 * expects, of its own installation.
 */
export interface LinkMessage {
  subject: string;
  reply: string;
  data: Uint8Array;
}

const HELLO = "$kumo.link.hello";
/** Largest frame accepted: a NATS-sized frame and then some; anything bigger is a broken peer. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Linux sun_path holds 108 bytes with its terminator. */
export const MAX_LINK_PATH_BYTES = 107;

/** What a node's hello says: its installation and its id. */
function identity(namespace: string, nodeId: string): string {
  return `${namespace}\n${nodeId}`;
}

function encode(subject: string, reply: string, data: Uint8Array): Buffer[] {
  const s = Buffer.byteLength(subject, "latin1");
  const r = Buffer.byteLength(reply, "latin1");
  const head = Buffer.allocUnsafe(8 + s + r);
  head.writeUInt32BE(4 + s + r + data.byteLength, 0);
  head.writeUInt16BE(s, 4);
  head.write(subject, 6, "latin1");
  head.writeUInt16BE(r, 6 + s);
  head.write(reply, 8 + s, "latin1");
  return data.byteLength > 0 ? [head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)] : [head];
}

/**
 * One end of a link: frames written in one event-loop turn leave in one write (as PublishBatcher
 * does for NATS), frames read are split out of the byte stream whatever the reads' boundaries.
 */
class LinkEnd {
  readonly #socket: Socket;
  #out: Buffer[] = [];
  #scheduled = false;
  /** Bytes read and not yet parsed, and how many must be there before parsing is worth it. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  #needed = 4;
  #closed = false;
  readonly #flush = () => this.#write();

  constructor(socket: Socket, onMessage: (message: LinkMessage) => void, onClose: () => void) {
    this.#socket = socket;
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => {
      // Chunks wait in a list until a whole frame is there: a 1 MB frame arriving in 64 KB reads
      // is joined once, not once per read.
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
      if (this.#buffered < this.#needed) return;
      let buf = this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
      let at = 0;
      this.#needed = 4;
      while (buf.byteLength - at >= 4) {
        const length = buf.readUInt32BE(at);
        if (length < 4 || length > MAX_FRAME_BYTES) {
          socket.destroy(new Error(`direct link: a frame of ${length} bytes is not valid`));
          return;
        }
        if (buf.byteLength - at - 4 < length) {
          this.#needed = 4 + length;
          break;
        }
        const start = at + 4;
        const s = buf.readUInt16BE(start);
        const r = 4 + s <= length ? buf.readUInt16BE(start + 2 + s) : length;
        if (4 + s + r > length) {
          socket.destroy(new Error("direct link: a frame's subjects overrun it"));
          return;
        }
        const subject = buf.toString("latin1", start + 2, start + 2 + s);
        const reply = buf.toString("latin1", start + 4 + s, start + 4 + s + r);
        const data = buf.subarray(start + 4 + s + r, start + length);
        at = start + length;
        onMessage({ subject, reply, data });
        if (this.#closed) return;
      }
      buf = buf.subarray(at);
      this.#chunks = buf.byteLength > 0 ? [buf] : [];
      this.#buffered = buf.byteLength;
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#out = [];
      onClose();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  publish(subject: string, data: Uint8Array, reply = ""): void {
    if (this.#closed) return;
    for (const part of encode(subject, reply, data)) this.#out.push(part);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  #write(): void {
    this.#scheduled = false;
    const out = this.#out;
    if (out.length === 0 || this.#closed) return;
    this.#out = [];
    this.#socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  }
}

export interface LinkServerOptions {
  /** Where to listen: a path in a directory only this service's user can enter. */
  path: string;
  /** The installation's bus namespace: a gateway of another installation hangs up. */
  namespace: string;
  nodeId: string;
  /** A message from a gateway; `reply` answers on that gateway's link. */
  onMessage(message: LinkMessage, reply: (subject: string, data: Uint8Array) => void): void;
}

/** The node's end: listens on a unix socket and greets every gateway that connects with its id. */
export class LinkServer {
  readonly #options: LinkServerOptions;
  readonly #ends = new Set<LinkEnd>();
  #server: Server | undefined;

  constructor(options: LinkServerOptions) {
    this.#options = options;
  }

  get path(): string {
    return this.#options.path;
  }

  async listen(): Promise<void> {
    const { path } = this.#options;
    if (Buffer.byteLength(path) > MAX_LINK_PATH_BYTES)
      throw new Error(`the direct link's socket path is longer than ${MAX_LINK_PATH_BYTES} bytes: ${path}`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    chmodSync(dirname(path), 0o700);
    rmSync(path, { force: true });
    const server = createServer((socket) => {
      const reply = (subject: string, data: Uint8Array) => end.publish(subject, data);
      const end: LinkEnd = new LinkEnd(
        socket,
        (message) => this.#options.onMessage(message, reply),
        () => this.#ends.delete(end),
      );
      this.#ends.add(end);
      end.publish(HELLO, Buffer.from(identity(this.#options.namespace, this.#options.nodeId)));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const end of this.#ends) end.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.#options.path, { force: true });
  }
}

export interface LinkClientOptions {
  path: string;
  /** The node the socket must belong to (its hello names it); any other is hung up on. */
  namespace: string;
  nodeId: string;
  onMessage(message: LinkMessage): void;
  onClose(client: LinkClient): void;
}

/** The gateway's end of a link to one node: usable once the node has said hello. */
export class LinkClient {
  readonly #options: LinkClientOptions;
  readonly #end: LinkEnd;
  #ready = false;

  constructor(options: LinkClientOptions) {
    this.#options = options;
    const socket = unixConnect(options.path);
    this.#end = new LinkEnd(
      socket,
      (message) => {
        if (this.#ready) options.onMessage(message);
        else if (
          message.subject === HELLO &&
          Buffer.from(message.data).toString() === identity(options.namespace, options.nodeId)
        )
          this.#ready = true;
        else this.#end.close();
      },
      () => {
        this.#ready = false;
        options.onClose(this);
      },
    );
  }

  get nodeId(): string {
    return this.#options.nodeId;
  }

  get path(): string {
    return this.#options.path;
  }

  /** Connected, greeted by the node it expects, and not closed since. */
  get ready(): boolean {
    return this.#ready && !this.#end.closed;
  }

  publish(subject: string, data: Uint8Array, reply: string): void {
    this.#end.publish(subject, data, reply);
  }

  close(): void {
    this.#end.close();
  }
}
