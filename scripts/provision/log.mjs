// One line per step, always prefixed "kumo:", so a human or a CI log can see at a glance what
// provisioning checked, what it changed, and where it stopped.

const STEP_WIDTH = 9;

const MARKS = /** @type {const} */ ({
  ok: "✓",
  act: "→",
  skip: "–",
  warn: "!",
  fail: "✗",
});

/**
 * Print one status line: `kumo: <step>  <mark> <message>`.
 * @param {keyof typeof MARKS} kind
 * @param {string} step
 * @param {string} message
 */
function line(kind, step, message) {
  const out = kind === "fail" || kind === "warn" ? process.stderr : process.stdout;
  out.write(`kumo: ${step.padEnd(STEP_WIDTH)} ${MARKS[kind]} ${message}\n`);
}

/** A check passed or a resource is in place. */
export const ok = (step, message) => line("ok", step, message);
/** Provisioning is about to change the machine (install, start, edit). */
export const act = (step, message) => line("act", step, message);
/** A step was not needed. */
export const skip = (step, message) => line("skip", step, message);
/** Something is missing or odd but the command can go on. */
export const warn = (step, message) => line("warn", step, message);
/** The step failed; the caller exits. */
export const fail = (step, message) => line("fail", step, message);

/**
 * Indented follow-up lines (hints, log tails) under the previous status line.
 * @param {string} text
 */
export function detail(text) {
  for (const l of text.split("\n")) process.stderr.write(`kumo: ${" ".repeat(STEP_WIDTH)}   ${l}\n`);
}
