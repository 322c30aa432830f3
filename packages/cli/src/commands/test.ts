import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type InvocationRequest, KumoError, stepOutcome } from "@kumo/core";
import type { Command, CommandContext } from "../command.ts";
import { invalidLocalInput, usageError } from "../errors.ts";
import { type LocalFunction, loadLocalFunction } from "../local/local-function.ts";
import {
  eventInvocation,
  httpInvocation,
  parseHttpSample,
  parseJsonFile,
  stepInvocation,
} from "../local/local-invocation.ts";
import { createLocalRunner, type LocalResult } from "../local/local-runner.ts";
import { logLineText } from "../local/log-line-text.ts";

export const testCommand: Command = {
  name: "test",
  summary: "Run one invocation of a local function (no platform) and print its result and logs",
  help: `Usage: kumo test [dir] --event FILE [--type T]
       kumo test [dir] --request FILE
       kumo test [dir] --input FILE [--context FILE]

Runs the function in dir (default: .) once, as \`kumo dev\` does (edge in the platform's isolate
runtime, node/bun/deno/python in their runtime shim), with kumo.json "env" and .env as its
environment. The result goes to stdout, the function's console lines to stderr.
Exit code 1 when the function failed (it threw, timed out, or answered 5xx; a step's error branch).

  --event FILE    a triggered run: POST / with this JSON event and kumo-event-type T
  --type T        the event's type (default "event"; "cron", "queue" as those triggers send them)
  --request FILE  an HTTP request: {"method", "path", "headers", "body"} (body: text, or JSON)
  --input FILE    a workflow step: step(input, context) with this JSON input; prints
                  {output, nextPath, error?}
  --context FILE  the step's context as a workflow passes it: {workflowId, runId, stepId, env, ...}`,
  options: {
    event: { type: "string" },
    type: { type: "string" },
    request: { type: "string" },
    input: { type: "string" },
    context: { type: "string" },
  },
  async run(context, args) {
    args.atMost(1);
    const modes = (["event", "request", "input"] as const).filter((name) => args.string(name) !== undefined);
    const mode = modes[0];
    if (mode === undefined || modes.length > 1) {
      throw usageError("pass exactly one of --event FILE, --request FILE or --input FILE");
    }
    if (args.string("type") !== undefined && mode !== "event") throw usageError("--type goes with --event");
    if (args.string("context") !== undefined && mode !== "input")
      throw usageError("--context goes with --input");
    const dir = resolve(context.io.cwd, args.optional(0) ?? ".");
    const fn = await loadLocalFunction(dir);
    if (fn.missingSecrets.length > 0) {
      context.out.warn(`kumo.json names secrets that .env does not set: ${fn.missingSecrets.join(", ")}`);
    }
    const read = async (flag: string) => {
      const file = resolve(context.io.cwd, args.string(flag) ?? "");
      try {
        return { file, text: await readFile(file, "utf8") };
      } catch {
        throw invalidLocalInput(`cannot read ${file} (--${flag})`);
      }
    };

    const runner = await createLocalRunner(fn, context.io.env);
    try {
      await runner.load(fn);
      if (mode === "input") {
        const input = await read("input");
        const given = args.string("context") === undefined ? undefined : await read("context");
        const stepContext = given === undefined ? localStepContext() : parseJsonFile(given.text, given.file);
        if (typeof stepContext !== "object" || stepContext === null || Array.isArray(stepContext)) {
          throw invalidLocalInput(`${given?.file}: the context must be a JSON object`);
        }
        const request = stepInvocation(
          parseJsonFile(input.text, input.file),
          stepContext as Record<string, unknown>,
          fn.name,
          fn.config,
        );
        const started = performance.now();
        const result = await runner.invoke(request);
        printStep(context, result, performance.now() - started);
        return;
      }
      let request: InvocationRequest;
      if (mode === "event") {
        const event = await read("event");
        request = eventInvocation(
          args.string("type") ?? "event",
          parseJsonFile(event.text, event.file),
          fn.config,
        );
      } else {
        const sample = await read("request");
        request = httpInvocation(parseHttpSample(sample.text, sample.file), fn.config);
      }
      const started = performance.now();
      const result = await runner.invoke(request);
      printHttp(context, fn, result, performance.now() - started);
    } finally {
      await runner.close();
    }
  },
};

function localStepContext(): Record<string, unknown> {
  return { workflowId: "local", runId: "local-run", stepId: "local-step", env: {} };
}

function printStep(context: CommandContext, result: LocalResult, durationMs: number): void {
  const outcome = stepOutcome(result, result.body);
  const { out } = context;
  const shown = {
    output: outcome.output,
    nextPath: outcome.nextPath,
    ...(outcome.error ? { error: outcome.error } : {}),
  };
  out.result({ ...shown, logs: outcome.logs, durationMs: round(durationMs) }, () => {
    for (const line of outcome.logs) out.note(logLineText(line));
    out.line(JSON.stringify(shown, null, 2));
    out.note(`step → nextPath "${outcome.nextPath}" · ${round(durationMs)} ms`);
  });
  if (outcome.error) {
    throw new KumoError(
      outcome.error.code,
      `the step failed (nextPath "${outcome.nextPath}"): ${outcome.error.message}`,
    );
  }
}

function printHttp(
  context: CommandContext,
  fn: LocalFunction,
  result: LocalResult,
  durationMs: number,
): void {
  const { out } = context;
  const text = Buffer.from(result.body).toString("utf8");
  const type = result.headers.find(([name]) => name === "content-type")?.[1] ?? "";
  out.result(
    {
      status: result.status,
      headers: Object.fromEntries(result.headers),
      body: type.includes("json") ? parseOr(text) : text,
      logs: result.logs,
      durationMs: round(durationMs),
      ...(result.error ? { error: result.error } : {}),
    },
    () => {
      for (const line of result.logs) out.note(logLineText(line));
      out.raw(result.body);
      if (result.body.length > 0 && result.body[result.body.length - 1] !== 10) out.raw("\n");
      out.note(`HTTP ${result.status} · ${round(durationMs)} ms`);
    },
  );
  if (result.error) throw new KumoError(result.error.code, `${fn.name} failed: ${result.error.message}`);
  if (result.status >= 500) throw new KumoError("FN_004", `${fn.name} answered HTTP ${result.status}`);
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
