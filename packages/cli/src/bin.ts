import { runCli } from "./cli.ts";

// Ctrl-C once ends a follow (logs -f, a build log) cleanly; a second Ctrl-C exits at once.
const interrupt = new AbortController();
process.on("SIGINT", () => {
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
});

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  fetch: globalThis.fetch,
  signal: interrupt.signal,
  now: Date.now,
});
