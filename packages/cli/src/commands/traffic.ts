import { setTimeout as sleep } from "node:timers/promises";
import { KumoError, parseDurationMs } from "@kumo/core";
import type { ApiClient, Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Rollout } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { CliError, EXIT_CODES, usageError } from "../errors.ts";
import { ago } from "../format.ts";
import { parseFunctionName } from "../function-ref.ts";
import { LIST_HELP, LIST_OPTIONS, listQuery, noteNextPage } from "../list-options.ts";
import type { ParsedArgs } from "../parsed-args.ts";

/** The gateway's bounds for a step interval and the number of steps. */
const INTERVAL_MS = { min: 50, max: 7 * 86_400_000 } as const;
const MAX_STEPS = 20;

export const trafficCommand: Command = {
  name: "traffic",
  summary: "Shift an alias to a new version gradually, rolling back on errors",
  help: `Usage: kumo traffic shift <fn> --to <version> --steps 10,50,100 --interval 5m [--alias live]
                          [--max-error-rate 5%] [--min-requests 20] [--wait]
       kumo traffic status <fn> [id]
       kumo traffic cancel <fn> <id>

shift starts a rollout: the alias (default live) sends the first step's percentage of requests
to the new version at once, and the next one every interval, as long as the new version's error
rate over at least --min-requests requests stays at or under --max-error-rate. Above it, the alias
goes back to the old version.

  --to N                 the version to shift to (4 or v4)
  --steps W,W,...        percentages of traffic for the new version, increasing, ending with 100
  --interval D           time per step: 30s, 5m, 1h (at least 50ms, at most 7d)
  --alias NAME           the alias to shift (default live)
  --max-error-rate R     5% or 0.05 (default 5%)
  --min-requests N       requests a step needs before it is judged (default 20)
  --wait                 follow the rollout: exit 0 once completed, 1 if rolled back or cancelled
${LIST_HELP}`,
  options: {
    to: { type: "string" },
    steps: { type: "string" },
    interval: { type: "string" },
    alias: { type: "string" },
    "max-error-rate": { type: "string" },
    "min-requests": { type: "string" },
    wait: { type: "boolean" },
    ...LIST_OPTIONS,
  },
  async run(context, args) {
    const sub = args.required(0, "subcommand (kumo traffic shift|status|cancel)");
    if (sub === "shift") return shift(context, args.atMost(2));
    if (sub === "status") return status(context, args.atMost(3));
    if (sub === "cancel") return cancel(context, args.atMost(3));
    throw usageError(`unknown subcommand "traffic ${sub}": expected shift, status or cancel`);
  },
};

async function shift(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = parseFunctionName(args.required(1, "function name (kumo traffic shift <fn> --to v4 ...)"));
  const to = args.int("to", { min: 1, version: true });
  if (to === undefined) throw usageError("missing --to: the version to shift traffic to, e.g. --to v4");
  const body: Record<string, unknown> = {
    to,
    steps: parseSteps(requiredFlag(args, "steps", "e.g. --steps 10,50,100")),
    interval: parseInterval(requiredFlag(args, "interval", "e.g. --interval 5m")),
    alias: parseAlias(args.string("alias") ?? "live"),
  };
  // Left out, the gateway's defaults apply (5%, 20 requests).
  const maxErrorRate = args.string("max-error-rate");
  if (maxErrorRate !== undefined) body.maxErrorRate = parseErrorRate(maxErrorRate);
  const minRequests = args.int("min-requests", { max: 1_000_000 });
  if (minRequests !== undefined) body.minRequests = minRequests;

  const client = await context.client();
  const started = await client.request<Rollout>("POST", apiPath`/v1/functions/${name}/rollouts`, {
    json: body,
  });
  const { out } = context;
  if (!args.flag("wait")) {
    out.result(started, () => {
      for (const line of describeStart(name, started)) out.line(line);
    });
    return;
  }
  if (!out.json) for (const line of describeStart(name, started)) out.note(line);
  const final = await waitForRollout(context, client, name, started);
  out.result(final, () => {
    if (final.status === "completed") {
      out.line(`Rollout ${final.id} completed: ${target(name, final)} serves v${final.to}.`);
    }
  });
  if (final.status !== "completed") throw rolloutFailed(name, final);
}

async function status(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = parseFunctionName(args.required(1, "function name (kumo traffic status <fn> [id])"));
  const id = args.optional(2);
  const client = await context.client();
  const { out } = context;
  const now = context.io.now();
  if (id !== undefined) {
    const rollout = await client.get<Rollout>(apiPath`/v1/functions/${name}/rollouts/${id}`);
    out.result(rollout, () => out.fields(describeRollout(name, rollout, now)));
    return;
  }
  const page = await client.get<Page<Rollout>>(apiPath`/v1/functions/${name}/rollouts`, {
    query: listQuery(args),
  });
  out.result(page, () => {
    out.table(
      page.items,
      [
        { header: "ID", value: (r) => r.id },
        { header: "ALIAS", value: (r) => r.alias },
        { header: "VERSIONS", value: (r) => `v${r.from} → v${r.to}` },
        { header: "WEIGHT", value: (r) => `${r.weight ?? 0}%` },
        { header: "STATUS", value: (r) => r.status },
        { header: "ERROR RATE", value: (r) => errorRateOf(r) },
        { header: "STARTED", value: (r) => ago(r.createdAt, now) },
      ],
      `No rollouts for ${name} yet.`,
    );
    noteNextPage(out, page, `kumo traffic status ${name}`);
  });
}

async function cancel(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = parseFunctionName(args.required(1, "function name (kumo traffic cancel <fn> <id>)"));
  const id = args.required(2, "rollout id (kumo traffic cancel <fn> <id>; see kumo traffic status <fn>)");
  const client = await context.client();
  const rollout = await client.request<Rollout>("POST", apiPath`/v1/functions/${name}/rollouts/${id}/cancel`);
  context.out.result(rollout, () => {
    context.out.line(
      `Cancelled rollout ${rollout.id}: ${target(name, rollout)} serves v${rollout.from} again.`,
    );
  });
}

/**
 * Polls a rollout until it leaves "running", with a progress line on stderr per step. Polls often
 * enough to see each step soon after it happens, at most every 5 s for long intervals.
 */
async function waitForRollout(
  context: CommandContext,
  client: ApiClient,
  name: string,
  started: Rollout,
): Promise<Rollout> {
  const { progress } = context;
  const pollMs = Math.min(Math.max(Math.round(started.intervalMs / 4), 100), 5000);
  const path = apiPath`/v1/functions/${name}/rollouts/${started.id}`;
  let rollout = started;
  let label = "";
  try {
    while (rollout.status === "running") {
      const next = `${target(name, rollout)}: v${rollout.to} at ${rollout.weight ?? 0}% (step ${rollout.stepIndex + 1} of ${rollout.steps.length})`;
      if (next !== label) progress.start(next);
      label = next;
      await sleep(pollMs, undefined, { signal: context.io.signal });
      rollout = await client.get<Rollout>(path);
    }
  } catch (error) {
    if (!context.io.signal.aborted) throw error;
    throw new CliError("INTERRUPTED", EXIT_CODES.interrupted, "interrupted; the rollout goes on", {
      hint: `follow it with \`kumo traffic status ${name} ${started.id}\``,
    });
  } finally {
    progress.stop();
  }
  return rollout;
}

/** A rollout that ended without completing: exit 1, with the measured error rate when it rolled back. */
function rolloutFailed(name: string, rollout: Rollout): KumoError {
  const serves = `${target(name, rollout)} serves v${rollout.from} again`;
  const message =
    rollout.status === "rolled_back"
      ? `rollout ${rollout.id} rolled back: v${rollout.to} failed ${errorRateOf(rollout)}; ${serves}`
      : `rollout ${rollout.id} was ${rollout.status}${rollout.reason ? ` (${rollout.reason})` : ""}; ${serves}`;
  return new KumoError("FN_005", message, {
    details: { rollout: rollout.id, status: rollout.status, errorRate: rollout.lastErrorRate },
  });
}

function describeStart(name: string, rollout: Rollout): string[] {
  if (rollout.status === "completed") {
    return [
      `Rollout ${rollout.id} completed at once: ${target(name, rollout)} serves v${rollout.to} (the first step is 100%).`,
    ];
  }
  const weight = rollout.weight ?? 0;
  return [
    `Rollout ${rollout.id} started: ${target(name, rollout)} sends ${weight}% of requests to v${rollout.to} (v${rollout.from} keeps ${100 - weight}%).`,
    `Steps ${rollout.steps.map((s) => `${s}%`).join(" → ")}, every ${formatInterval(rollout.intervalMs)}, while v${rollout.to} fails at most ${formatRate(rollout.maxErrorRate)} of at least ${rollout.minRequests} requests per step.`,
    `Watch it: kumo traffic status ${name} ${rollout.id}   (stop it: kumo traffic cancel ${name} ${rollout.id})`,
  ];
}

function describeRollout(name: string, r: Rollout, now: number): [string, string][] {
  const fields: [string, string][] = [
    ["Rollout", r.id],
    ["Alias", target(name, r)],
    ["Versions", `v${r.from} → v${r.to}`],
    ["Status", r.status],
    ["Weight", `${r.weight ?? 0}% (step ${r.stepIndex + 1} of ${r.steps.length}: ${r.steps.join(" → ")})`],
    ["Interval", formatInterval(r.intervalMs)],
    [
      "Error rate",
      `${errorRateOf(r)} (max ${formatRate(r.maxErrorRate)}, judged from ${r.minRequests} requests)`,
    ],
  ];
  if (r.status === "running") fields.push(["Next step", nextStep(r, now)]);
  if (r.reason) fields.push(["Reason", r.reason]);
  fields.push(["Started", `${ago(r.createdAt, now)}${r.createdBy ? ` by ${r.createdBy}` : ""}`]);
  if (r.finishedAt) fields.push(["Finished", ago(r.finishedAt, now)]);
  return fields;
}

/** When the rollout is judged next, and whether it waits for traffic to judge it by. */
function nextStep(r: Rollout, now: number): string {
  const waiting = r.lastRequests !== null && r.lastRequests < r.minRequests;
  if (waiting) return `waiting for traffic: ${r.lastRequests} of ${r.minRequests} requests to v${r.to}`;
  const seconds = r.nextStepAt === null ? 0 : Math.round((Date.parse(r.nextStepAt) - now) / 1000);
  if (seconds <= 0) return "due now";
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `in ${minutes}m${seconds % 60 ? ` ${seconds % 60}s` : ""}` : `in ${seconds}s`;
}

/** `10,50,100` (a `%` after each is fine): increasing percentages from 1 to 100, ending with 100. */
export function parseSteps(raw: string): number[] {
  const parts = raw.split(",").map((part) => part.trim().replace(/%$/, ""));
  const steps = parts.map((part) => {
    const value = /^\d+$/.test(part) ? Number(part) : Number.NaN;
    if (!(value >= 1 && value <= 100)) {
      throw usageError(`invalid --steps "${raw}": each step is a percentage from 1 to 100, got "${part}"`);
    }
    return value;
  });
  if (steps.length > MAX_STEPS) throw usageError(`invalid --steps "${raw}": at most ${MAX_STEPS} steps`);
  if (steps.some((step, i) => i > 0 && step <= (steps[i - 1] ?? 0))) {
    throw usageError(`invalid --steps "${raw}": each step must be larger than the one before`);
  }
  if (steps.at(-1) !== 100) {
    throw usageError(
      `invalid --steps "${raw}": the last step must be 100 (the new version takes all traffic)`,
    );
  }
  return steps;
}

/** `30s`, `5m`, `1h`, `250ms` → milliseconds. A bare number is refused: 60 could mean seconds. */
export function parseInterval(raw: string): number {
  if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) {
    throw usageError(`invalid --interval "${raw}": give a unit, such as ${raw.trim()}s or ${raw.trim()}m`);
  }
  const ms = parseDurationMs(raw);
  if (ms === undefined)
    throw usageError(`invalid --interval "${raw}": expected a duration such as 30s, 5m or 1h`);
  if (ms < INTERVAL_MS.min || ms > INTERVAL_MS.max) {
    throw usageError(`invalid --interval "${raw}": must be between 50ms and 7d`);
  }
  return ms;
}

/** `5%` or `0.05` → 0.05. A bare number above 1 is refused rather than guessed at. */
export function parseErrorRate(raw: string): number {
  const percent = raw.endsWith("%");
  const text = percent ? raw.slice(0, -1) : raw;
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) / (percent ? 100 : 1) : Number.NaN;
  if (!(value >= 0 && value <= 1)) {
    throw usageError(
      `invalid --max-error-rate "${raw}": give a percentage (5%) or a fraction (0.05) up to 100%`,
    );
  }
  return value;
}

function parseAlias(alias: string): string {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(alias)) {
    throw usageError(`invalid alias "${alias}": lowercase letters, digits and '-', starting with a letter`);
  }
  return alias;
}

function requiredFlag(args: ParsedArgs, name: string, example: string): string {
  const value = args.string(name);
  if (value === undefined) throw usageError(`missing --${name} (${example})`);
  return value;
}

function target(name: string, rollout: Rollout): string {
  return `${name}@${rollout.alias}`;
}

function errorRateOf(r: Rollout): string {
  if (r.lastErrorRate === null) return r.lastRequests ? `- (${r.lastRequests} requests so far)` : "-";
  return `${formatRate(r.lastErrorRate)} of ${r.lastRequests ?? "?"} requests`;
}

/** 0.05 → "5%", 0.1234 → "12.3%". */
function formatRate(rate: number): string {
  return `${Number((rate * 100).toFixed(1))}%`;
}

/** 300000 → "5m", 1500 → "1500ms": the largest unit that divides it. */
function formatInterval(ms: number): string {
  const units: [string, number][] = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  for (const [unit, size] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
