import type { AlertDelivery, AlertDueTrigger, PlatformStore, ScheduledTriggers } from "@kumo/db";
import type { AlertWebhooks } from "./alert-webhooks.ts";

export interface AlertNotifierOptions {
  platform: PlatformStore;
  webhooks: AlertWebhooks;
  now?: () => number;
  log: (line: string) => void;
}

/** The JSON body of an alert in the "json" format. */
export interface AlertPayload {
  kind: "failure" | "recovery";
  tenant: string;
  function: string;
  trigger: { id: string; type: string };
  invocationId: string | null;
  errorCode: string | null;
  message: string | null;
  /** Consecutive failed runs (0 in a recovery notice). */
  failures: number;
  at: string;
}

/** Alerts due per pass: a storm of failing triggers is worked off over several ticks. */
const BATCH = 50;

/**
 * Failure alerts of triggers: after `alert.after` consecutive failed runs (or firings that could not
 * happen), POSTs the trigger's alert webhook once, and again with a recovery notice when a run
 * succeeds. Driven by trigger state (`alert_status`), so a leader that dies before sending leaves
 * the alert to its successor, and a webhook that stays down gets one failed delivery per change,
 * not one per tick. Deliveries go through AlertWebhooks (address policy, Slack shape, signing).
 */
export class AlertNotifier {
  readonly #options: AlertNotifierOptions;
  readonly #scheduled: ScheduledTriggers;
  readonly #now: () => number;

  constructor(options: AlertNotifierOptions) {
    this.#options = options;
    this.#scheduled = options.platform.scheduledTriggers();
    this.#now = options.now ?? Date.now;
  }

  /** Sends the alerts that are due; one failing webhook never holds up the others. */
  async pass(): Promise<number> {
    const due = await this.#scheduled.alertsDue(BATCH);
    await Promise.all(
      due.map((t) =>
        this.#send(t).catch((error: unknown) =>
          this.#options.log(`alert of trigger ${t.id} (${t.function_name}): ${String(error)}`),
        ),
      ),
    );
    return due.length;
  }

  async #send(trigger: AlertDueTrigger): Promise<void> {
    const alert = trigger.alert;
    if (!alert) return;
    const kind = trigger.alert_status === "ok" ? "failure" : "recovery";
    const payload = alertPayload(trigger, kind, new Date(this.#now()));
    const result = await this.#options.webhooks.send(trigger.tenant_id, alert, {
      json: payload,
      slackText: slackText(payload),
      kind,
    });
    const delivery: AlertDelivery = {
      kind,
      at: payload.at,
      invocationId: payload.invocationId,
      delivered: result.delivered,
      ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
    };
    if (!result.delivered)
      this.#options.log(`alert for trigger ${trigger.id} not delivered: ${result.error}`);
    await this.#scheduled.alerted(trigger, kind === "failure" ? "alerting" : "ok", delivery);
  }
}

export function alertPayload(trigger: AlertDueTrigger, kind: "failure" | "recovery", at: Date): AlertPayload {
  const [, code, message] = /^(FN_\d{3}): ([\s\S]*)$/.exec(trigger.last_error ?? "") ?? [];
  return {
    kind,
    tenant: trigger.tenant_name,
    function: trigger.function_name,
    trigger: { id: trigger.id, type: trigger.kind },
    invocationId: trigger.last_invocation_id,
    errorCode: kind === "failure" ? (code ?? null) : null,
    message: kind === "failure" ? (message ?? trigger.last_error) : null,
    failures: trigger.consecutive_failures,
    at: at.toISOString(),
  };
}

/** The Slack message: one line of text a person reads in a channel. */
function slackText(p: AlertPayload): string {
  const where = `${p.function} (${p.trigger.type} trigger ${p.trigger.id}, tenant ${p.tenant})`;
  if (p.kind === "recovery") return `:white_check_mark: ${where} recovered: its last run succeeded.`;
  const runs = p.failures === 1 ? "1 failed run" : `${p.failures} failed runs in a row`;
  const error = p.errorCode ? `${p.errorCode}: ${p.message ?? ""}` : (p.message ?? "unknown error");
  const invocation = p.invocationId ? ` Invocation ${p.invocationId}.` : "";
  return `:rotating_light: ${where}: ${runs}. ${error}.${invocation}`;
}
