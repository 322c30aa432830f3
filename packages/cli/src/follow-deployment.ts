import type { ApiClient } from "./api-client.ts";
import { apiPath } from "./api-path.ts";
import type { Deployment } from "./api-types.ts";

export interface FollowDeploymentOptions {
  /** Called with each build log line, in order, once. */
  onLog(line: string): void;
  /** Used when the server does not stream: the longest wait between polls (they start at 250 ms). */
  maxPollIntervalMs?: number;
  /** Gives up (returning the last state seen) after this long. */
  timeoutMs?: number;
}

const isDone = (d: Deployment) => d.status === "succeeded" || d.status === "failed";

/**
 * Follows a deployment until it succeeds or fails: the build log over SSE (`?follow=1`), or, when
 * the server answers without streaming or the stream ends early, by polling the deployment.
 */
export async function followDeployment(
  client: ApiClient,
  functionName: string,
  deploymentId: string,
  options: FollowDeploymentOptions,
): Promise<Deployment> {
  const path = apiPath`/v1/functions/${functionName}/deployments/${deploymentId}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  let printedLines = 0;
  let last: Deployment | undefined;

  const { events, fallback } = await client.stream(path, { query: { follow: 1 } });
  if (events) {
    for await (const event of events) {
      if (event.event === "log") {
        options.onLog(lineOf(event.data));
        printedLines++;
      } else if (event.event === "status") {
        last = JSON.parse(event.data) as Deployment;
        if (isDone(last)) return last;
      }
    }
  } else if (isDeployment(fallback)) {
    last = fallback;
    printedLines = printNewLines(last, 0, options);
    if (isDone(last)) return last;
  }

  // Not streamed, or the stream ended before the end of the build: poll, quickly at first
  // (edge bundles take well under a second), then backing off.
  let intervalMs = 250;
  for (;;) {
    if (Date.now() > deadline && last) return last;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    intervalMs = Math.min(intervalMs * 2, options.maxPollIntervalMs ?? 2000);
    last = await client.get<Deployment>(path);
    printedLines = printNewLines(last, printedLines, options);
    if (isDone(last)) return last;
  }
}

function printNewLines(
  deployment: Deployment,
  alreadyPrinted: number,
  options: FollowDeploymentOptions,
): number {
  if (typeof deployment.log !== "string" || deployment.log === "") return alreadyPrinted;
  const lines = deployment.log.replace(/\n$/, "").split("\n");
  for (const line of lines.slice(alreadyPrinted)) options.onLog(line);
  return Math.max(alreadyPrinted, lines.length);
}

function lineOf(data: string): string {
  try {
    const parsed: unknown = JSON.parse(data);
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      "line" in parsed &&
      typeof parsed.line === "string"
    ) {
      return parsed.line;
    }
  } catch {
    // a plain-text data field is the line itself
  }
  return data;
}

function isDeployment(value: unknown): value is Deployment {
  return typeof value === "object" && value !== null && "id" in value && "status" in value;
}
