import type { OutputStream } from "./cli-io.ts";

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * Progress of long work on stderr. On a terminal it is a spinner that log lines scroll past; in
 * a pipe or CI log it prints one plain line per step, never a control character.
 */
export class Progress {
  readonly #stream: OutputStream;
  readonly #tty: boolean;
  #label = "";
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(stream: OutputStream) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  /** Starts (or relabels) the current step. */
  start(label: string): void {
    this.#label = label;
    if (!this.#tty) {
      this.#stream.write(`${label}...\n`);
      return;
    }
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#draw(), 80);
      this.#timer.unref();
    }
    this.#draw();
  }

  /** Prints a line (e.g. a build log line) without disturbing the spinner. */
  log(line: string): void {
    this.#clear();
    this.#stream.write(`${line}\n`);
    if (this.#timer !== undefined) this.#draw();
  }

  /** Ends the current step with a final line. */
  done(text: string): void {
    this.stop();
    this.#stream.write(`${text}\n`);
  }

  stop(): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#clear();
    }
  }

  #draw(): void {
    const frame = FRAMES[this.#frame++ % FRAMES.length] ?? "";
    this.#stream.write(`\r\x1b[2K${frame} ${this.#label}`);
  }

  #clear(): void {
    if (this.#tty) this.#stream.write("\r\x1b[2K");
  }
}
