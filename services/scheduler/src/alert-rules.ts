import {
  type AlertRuleEvaluations,
  type EvaluatedRule,
  type MetricAggregate,
  mergeAggregate,
  newAggregate,
  type PlatformStore,
  quantileOf,
} from "@kumo/db";
import type { AlertWebhooks } from "./alert-webhooks.ts";

export interface AlertRulesOptions {
  platform: PlatformStore;
  webhooks: AlertWebhooks;
  /** How often each rule is evaluated. */
  everyMs: number;
  now?: () => number;
  log: (line: string) => void;
}

/** The JSON body of a rule's notification ("json" format). */
export interface AlertRulePayload {
  kind: "firing" | "resolved";
  rule: { id: string; name: string; metric: string; threshold: number; windowMs: number };
  tenant: string;
  /** Null: the rule watches all of the tenant's functions. */
  function: string | null;
  value: number | null;
  at: string;
}

/** Rules evaluated per pass; the rest wait for the next pass (oldest evaluation first). */
const BATCH = 200;

/**
 * Alert rules, evaluated by the scheduler's leader: each rule's metric over its window, from the
 * metrics rollups (percentiles from merged sketches, never an average of percentiles) or, for
 * failed deploys, from the deployments. A rule whose value goes above its threshold fires (its
 * webhook gets a "firing" notification) and stays firing until the value is back at or below it
 * ("resolved"). One notification per change, recorded in the rule's history with how its delivery
 * went; the verdict is written compare-and-set, so a leader that lost its lease changes nothing.
 */
export class AlertRules {
  readonly #options: AlertRulesOptions;
  readonly #evaluations: AlertRuleEvaluations;
  readonly #now: () => number;

  constructor(options: AlertRulesOptions) {
    this.#options = options;
    this.#evaluations = options.platform.alertRuleEvaluations();
    this.#now = options.now ?? Date.now;
  }

  /** Evaluates the rules that are due; a failing rule never holds up the others. */
  async pass(): Promise<number> {
    const now = new Date(this.#now());
    const due = await this.#evaluations.due(new Date(now.getTime() - this.#options.everyMs), BATCH);
    await Promise.all(
      due.map((rule) =>
        this.#evaluate(rule, now).catch((error: unknown) =>
          this.#options.log(`alert rule ${rule.id} (${rule.name}): ${String(error)}`),
        ),
      ),
    );
    return due.length;
  }

  async #evaluate(rule: EvaluatedRule, now: Date): Promise<void> {
    let value: number | null;
    try {
      value = await this.#value(rule, now);
    } catch (error) {
      await this.#evaluations.verdict(rule, {
        state: rule.state,
        value: null,
        error: String(error),
        at: now,
      });
      return;
    }
    // No verdict without enough invocations: the rule keeps its state.
    const state = value === null ? rule.state : value > rule.threshold ? "firing" : "ok";
    const changed = state !== rule.state;
    if (!(await this.#evaluations.verdict(rule, { state, value, error: null, at: now }))) return;
    if (!changed) return;
    const kind = state === "firing" ? "firing" : "resolved";
    const payload: AlertRulePayload = {
      kind,
      rule: {
        id: rule.id,
        name: rule.name,
        metric: rule.metric,
        threshold: rule.threshold,
        windowMs: rule.window_ms,
      },
      tenant: rule.tenant_name,
      function: rule.function_name,
      value,
      at: now.toISOString(),
    };
    const result = await this.#options.webhooks.send(rule.tenant_id, rule.webhook, {
      json: payload,
      slackText: slackText(payload),
      kind,
    });
    if (!result.delivered) this.#options.log(`alert rule ${rule.id} not delivered: ${result.error}`);
    await this.#evaluations.recordEvent(rule, {
      kind,
      value,
      delivered: result.delivered,
      ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
    });
  }

  /** The rule's metric over its window, or null when too few invocations make it meaningless. */
  async #value(rule: EvaluatedRule, now: Date): Promise<number | null> {
    const from = new Date(now.getTime() - rule.window_ms);
    if (rule.metric === "failed_deploys") {
      return this.#evaluations.failedDeploys(rule.tenant_id, rule.function_id, from);
    }
    const total = await this.#aggregate(rule, from, now);
    switch (rule.metric) {
      case "error_rate": {
        if (total.invocations < rule.min_invocations || total.invocations === 0) return null;
        const errors = Object.values(total.errors).reduce((sum, n) => sum + n, 0);
        return errors / total.invocations;
      }
      case "p95_ms":
        if (total.invocations < rule.min_invocations || total.duration.count === 0) return null;
        return quantileOf(total.duration, 0.95);
      case "throttles":
        return total.throttles;
      case "dead_letters":
        return total.deadLetters;
    }
  }

  /** The rollups of the window merged: one function's, or every function's of the tenant. */
  async #aggregate(rule: EvaluatedRule, from: Date, to: Date): Promise<MetricAggregate> {
    const metrics = this.#options.platform.tenant(rule.tenant_id).metrics;
    if (rule.function_id) {
      const series = await metrics.series({
        functionId: rule.function_id,
        from,
        to,
        stepMs: Math.max(1, to.getTime() - from.getTime()),
      });
      return series.total;
    }
    const total = newAggregate();
    for (const fn of await metrics.overview({ from, to })) mergeAggregate(total, fn.aggregate);
    return total;
  }
}

function slackText(p: AlertRulePayload): string {
  const what = p.function ? `function ${p.function}` : `all functions of ${p.tenant}`;
  const value = p.value === null ? "no data" : formatValue(p.rule.metric, p.value);
  const threshold = formatValue(p.rule.metric, p.rule.threshold);
  return p.kind === "firing"
    ? `:rotating_light: ${p.rule.name}: ${p.rule.metric} of ${what} is ${value} (above ${threshold})`
    : `:white_check_mark: ${p.rule.name} resolved: ${p.rule.metric} of ${what} is ${value}`;
}

function formatValue(metric: string, value: number): string {
  if (metric === "error_rate") return `${(value * 100).toFixed(1)} %`;
  if (metric === "p95_ms") return `${Math.round(value)} ms`;
  return String(value);
}
