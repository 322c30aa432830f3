/** Why a long-running command was asked to stop. */
export type StopReason = "SIGINT" | "SIGTERM" | "launcher exited";

export interface StopRequestsOptions {
  /**
   * The pid of the process that launched this one and owns it (`npm start`'s launcher). When this
   * process's parent stops being that pid, the launcher is gone, however it died (SIGKILL included),
   * and this process stops too instead of living on as an orphan holding its ports.
   */
  launcherPid?: number | undefined;
  /** How often the parent is checked; Node has no prctl(PR_SET_PDEATHSIG). */
  pollMs?: number;
}

export interface StopRequests {
  /** The first request's reason, undefined until one arrives. */
  readonly reason: StopReason | undefined;
  /** Resolves with the first request's reason. */
  readonly requested: Promise<StopReason>;
  /** Removes the signal handlers and the parent check. */
  dispose(): void;
}

/** Collects the requests to stop: SIGINT, SIGTERM, or the launcher's death. */
export function watchStopRequests(options: StopRequestsOptions = {}): StopRequests {
  let reason: StopReason | undefined;
  let resolve: (reason: StopReason) => void = () => {};
  const requested = new Promise<StopReason>((r) => {
    resolve = r;
  });
  const request = (why: StopReason) => {
    if (reason !== undefined) return;
    reason = why;
    resolve(why);
  };
  const onSigint = () => request("SIGINT");
  const onSigterm = () => request("SIGTERM");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  const { launcherPid } = options;
  const timer =
    launcherPid === undefined
      ? undefined
      : setInterval(() => {
          if (process.ppid !== launcherPid) request("launcher exited");
        }, options.pollMs ?? 500);
  timer?.unref();
  if (launcherPid !== undefined && process.ppid !== launcherPid) request("launcher exited");
  return {
    get reason() {
      return reason;
    },
    requested,
    dispose() {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      if (timer) clearInterval(timer);
    },
  };
}
