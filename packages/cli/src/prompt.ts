import { createInterface } from "node:readline/promises";
import type { CliIo } from "./cli-io.ts";
import { interrupted } from "./errors.ts";

/** Whether the CLI may ask the person at the keyboard. */
export function canPrompt(io: CliIo): boolean {
  return io.stdin.isTTY === true && typeof io.stdin.setRawMode === "function";
}

/** Asks for a secret on the terminal without echoing it. */
export function promptHidden(io: CliIo, question: string): Promise<string> {
  const { stdin, stderr } = io;
  stderr.write(question);
  stdin.setRawMode?.(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write("\n");
    };
    const onData = (chunk: string | Buffer) => {
      for (const char of String(chunk)) {
        if (char === "\r" || char === "\n" || char === "\u0004") {
          finish();
          resolve(value);
          return;
        }
        if (char === "\u0003") {
          finish();
          reject(interrupted());
          return;
        }
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on("data", onData);
  });
}

/** Asks a yes/no question; anything but y/yes is no. */
export async function confirm(io: CliIo, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin, terminal: false });
  try {
    io.stderr.write(`${question} [y/N] `);
    const answer = await rl.question("", { signal: io.signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch {
    throw interrupted();
  } finally {
    rl.close();
  }
}

/** Reads all of stdin (a piped secret, a request body). */
export async function readStdin(io: CliIo): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
