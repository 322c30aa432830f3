import { useEffect, useRef, useState } from "preact/hooks";
import { type ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote } from "../components.tsx";
import { useSession } from "../session.ts";
import type { LogLine, Page } from "../types.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;
/** Lines kept on screen: a chatty function must not grow the page without end. */
const MAX_LINES = 1000;
/** Stored lines shown before the live ones. */
const BACKLOG = 100;

type TailState = "connecting" | "live" | "paused" | "ended";

/**
 * A function's logs: the latest stored lines matching the filters, then new lines as they are
 * written (`logs?follow=1`, server-sent events filtered on the server). With `invocationId` it
 * follows one invocation. Filters given by the caller live in its URL, so a filtered tail is a link.
 */
export function LogTail(props: {
  functionName: string;
  invocationId?: string;
  filters?: { q: string; levels: string[]; setFilters(q: string, levels: string[]): void };
}) {
  const { api } = useSession();
  const [own, setOwn] = useState({ q: "", levels: [] as string[] });
  const q = props.filters?.q ?? own.q;
  const levels = props.filters?.levels ?? own.levels;
  const setFilters =
    props.filters?.setFilters ?? ((nq: string, nl: string[]) => setOwn({ q: nq, levels: nl }));
  const [typed, setTyped] = useState(q);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<TailState>("connecting");
  const [live, setLive] = useState(true);
  const [error, setError] = useState<ApiError>();
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => setTyped(q), [q]);

  useEffect(() => {
    const abort = new AbortController();
    const query = new URLSearchParams();
    if (q) query.set("q", q);
    if (levels.length) query.set("level", levels.join(","));
    if (props.invocationId) query.set("invocationId", props.invocationId);
    const base = `/v1/functions/${seg(props.functionName)}/logs`;
    setError(undefined);
    setState(live ? "connecting" : "paused");
    const fail = (e: unknown) => {
      if (abort.signal.aborted) return;
      setError(asApiError(e));
      setState("ended");
    };
    // The stream first, so no line written between the two requests is lost; a line in both is shown once.
    const seen = new Set<string>();
    const keyOf = (l: LogLine) => `${l.ts}|${l.invocationId ?? ""}|${l.message}`;
    const add = (incoming: LogLine[]) => {
      const fresh = incoming.filter((l) => {
        const k = keyOf(l);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
      });
      if (fresh.length) setLines((old) => [...old, ...fresh].slice(-MAX_LINES));
    };
    setLines([]);
    if (live) {
      api
        .stream(
          `${base}?${query}&follow=1`,
          abort.signal,
          (event, data) => {
            if (event === "log") add([data as LogLine]);
          },
          () => setState("live"),
        )
        .then(() => {
          if (!abort.signal.aborted) setState("ended");
        }, fail);
    }
    api.get<Page<LogLine>>(`${base}?${query}&limit=${BACKLOG}`, abort.signal).then((page) => {
      const older = [...page.items].reverse();
      for (const l of older) seen.add(keyOf(l));
      setLines((newer) => [...older, ...newer].slice(-MAX_LINES));
    }, fail);
    return () => abort.abort();
  }, [api, props.functionName, props.invocationId, q, levels.join(","), live]);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);

  const toggle = (level: string) =>
    setFilters(q, levels.includes(level) ? levels.filter((l) => l !== level) : [...levels, level]);

  return (
    <div class="log-tail">
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(typed.trim(), levels);
        }}
      >
        <label>
          <span class="sr-only">Search log lines</span>
          <input
            type="search"
            placeholder="Text in the line"
            value={typed}
            onInput={(e) => setTyped(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Filter</button>
        <fieldset class="levels">
          <legend class="sr-only">Levels</legend>
          {LEVELS.map((l) => (
            <label key={l} class={`log-level ${l}`}>
              <input type="checkbox" checked={levels.includes(l)} onChange={() => toggle(l)} /> {l}
            </label>
          ))}
        </fieldset>
        <button type="button" aria-pressed={live} onClick={() => setLive(!live)}>
          {live ? "Pause" : "Resume"}
        </button>
        <span class={`tail-state ${state}`} data-testid="tail-state" role="status">
          {state === "live" ? "● live" : state}
        </span>
      </form>
      <ErrorNote error={error} />
      <pre
        class="logs tail"
        ref={box}
        data-testid="tail-logs"
        role="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
        }}
      >
        {lines.length === 0 && (
          <span class="muted">{levels.length || q ? "No lines match." : "No log lines yet."}</span>
        )}
        {lines.map((l, n) => (
          <div key={n} class={`log ${l.level}`}>
            <span class="muted">{l.ts.slice(11, 23)}</span> <b>{l.level}</b>{" "}
            {l.version ? <span class="muted">v{l.version} </span> : null}
            {l.message}
          </div>
        ))}
      </pre>
    </div>
  );
}
