import type { SuiteReport } from "./wpt-suite.ts";

export const RUNTIMES = ["kumo", "workerd"] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface FileOutcome {
  test: string;
  /** The --dirs entry the file belongs to. */
  dir: string;
  reports: Record<Runtime, SuiteReport>;
}

export interface Row {
  dir: string;
  files: number;
  /**
   * Subtests of the file: the larger count of the two runtimes (a runtime where the file dies
   * early reports fewer, and those it did not reach count as failed).
   */
  subtests: number;
  passed: Record<Runtime, number>;
  percent: Record<Runtime, number>;
  /** Kumo passes per workerd pass; null when workerd passes none. */
  ratio: number | null;
}

export interface FileRow extends Row {
  test: string;
  harness: Record<Runtime, string>;
  error: Record<Runtime, string | null>;
  shims: Record<Runtime, string[]>;
  /** With `details`: subtests that did not pass, with status and message (cut to 200 characters). */
  notPassed?: Record<Runtime, string[]>;
}

const pct = (n: number, of: number) => (of === 0 ? 0 : Math.round((1000 * n) / of) / 10);

function row(dir: string, files: number, subtests: number, passed: Record<Runtime, number>): Row {
  return {
    dir,
    files,
    subtests,
    passed,
    percent: { kumo: pct(passed.kumo, subtests), workerd: pct(passed.workerd, subtests) },
    ratio: passed.workerd === 0 ? null : Math.round((100 * passed.kumo) / passed.workerd) / 100,
  };
}

function fileRow(outcome: FileOutcome, details: boolean): FileRow {
  const { kumo, workerd } = outcome.reports;
  const subtests = Math.max(kumo.results.length, workerd.results.length);
  const passedOf = (r: SuiteReport) => r.results.filter((t) => t.status === "PASS").length;
  const notPassed = (r: SuiteReport) =>
    r.results
      .filter((t) => t.status !== "PASS")
      .map((t) => `${t.status} ${t.name}${t.message ? `: ${t.message.slice(0, 200)}` : ""}`);
  const harness = (r: SuiteReport) =>
    `${r.harness.status}${r.harness.message ? `: ${r.harness.message.slice(0, 300)}` : ""}`;
  return {
    ...row(outcome.dir, 1, subtests, { kumo: passedOf(kumo), workerd: passedOf(workerd) }),
    test: outcome.test,
    harness: { kumo: harness(kumo), workerd: harness(workerd) },
    error: { kumo: kumo.error?.slice(0, 500) ?? null, workerd: workerd.error?.slice(0, 500) ?? null },
    shims: { kumo: kumo.shims, workerd: workerd.shims },
    ...(details ? { notPassed: { kumo: notPassed(kumo), workerd: notPassed(workerd) } } : {}),
  };
}

export function summarize(
  outcomes: FileOutcome[],
  details = false,
): { directories: Row[]; total: Row; files: FileRow[] } {
  const files = outcomes.map((o) => fileRow(o, details));
  const dirs = [...new Set(files.map((f) => f.dir))];
  const add = (list: FileRow[], dir: string) =>
    row(
      dir,
      list.length,
      list.reduce((n, f) => n + f.subtests, 0),
      {
        kumo: list.reduce((n, f) => n + f.passed.kumo, 0),
        workerd: list.reduce((n, f) => n + f.passed.workerd, 0),
      },
    );
  return {
    directories: dirs.map((dir) =>
      add(
        files.filter((f) => f.dir === dir),
        dir,
      ),
    ),
    total: add(files, "total"),
    files,
  };
}
