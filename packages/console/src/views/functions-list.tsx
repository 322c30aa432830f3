import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import type { Api } from "../api.ts";
import { ErrorNote, fmtMs, fmtPct } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { FunctionFigures, FunctionInfo, Page } from "../types.ts";
import { useLoad } from "../use-load.ts";
import { Sparkline } from "./sparkline.tsx";

const ROW_HEIGHT = 44;
const OVERSCAN = 10;
const PAGE_SIZE = 500;
/** Rows from the end at which the next page is fetched, so scrolling rarely waits. */
const PREFETCH_ROWS = 100;
const FIGURES_BATCH = 100;
const FIGURES_DELAY_MS = 150;
const SEARCH_DELAY_MS = 250;

interface Listing {
  rows: FunctionInfo[];
  next: string | null;
}

async function loadPage(api: Api, q: string, cursor: string | null, signal?: AbortSignal): Promise<Listing> {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (q) query.set("q", q);
  if (cursor) query.set("cursor", cursor);
  const page = await api.get<Page<FunctionInfo>>(`/v1/functions?${query}`, signal);
  return { rows: page.items, next: page.nextCursor };
}

/**
 * The tenant's functions: searched and paged by the server (`?q=`; more pages as the list scrolls),
 * drawn virtually, with the last 24 hours' figures and sparklines of the rows in view only
 * (`GET /v1/metrics/functions`), so a 10,000-function tenant costs what its first screen costs.
 */
export function FunctionsList() {
  const { api, who } = useSession();
  const location = useLocation();
  const search = location.query.q ?? "";
  const [typed, setTyped] = useState(search);
  const first = useLoad(
    async (signal) => {
      const page = await loadPage(api, search.trim().toLowerCase(), null, signal);
      performance.mark("kumo:functions-loaded");
      return page;
    },
    [api, search],
  );
  const [more, setMore] = useState<Listing | null>(null);
  const loadingMore = useRef(false);
  useEffect(() => setMore(null), [first.data]);
  const listing = more ?? first.data;

  useEffect(() => {
    if (typed === search) return;
    const timer = setTimeout(() => {
      const q = typed.trim();
      location.route(q ? `/functions?q=${encodeURIComponent(q)}` : "/functions", true);
    }, SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [typed]);

  const loadMore = () => {
    if (!listing?.next || loadingMore.current) return;
    loadingMore.current = true;
    loadPage(api, search.trim().toLowerCase(), listing.next).then(
      (page) => {
        loadingMore.current = false;
        setMore({ rows: [...listing.rows, ...page.rows], next: page.next });
      },
      () => {
        loadingMore.current = false;
      },
    );
  };

  const empty = listing && listing.rows.length === 0;
  return (
    <section>
      <div class="row between">
        <h1>Functions</h1>
        {canWrite(who.role) && (
          <a class="button primary" href="/new">
            New function
          </a>
        )}
      </div>
      <label class="search">
        <span class="sr-only">Search functions</span>
        <input
          type="search"
          placeholder="Search by name or runtime"
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
      </label>
      <ErrorNote error={first.error} />
      {empty && !search && (
        <p class="empty">
          No functions yet. {canWrite(who.role) ? <a href="/new">Create one from a template.</a> : null}
        </p>
      )}
      {empty && search && <p class="empty">No function matches "{search}".</p>}
      {listing && listing.rows.length > 0 && (
        <VirtualTable api={api} rows={listing.rows} complete={listing.next === null} onNearEnd={loadMore} />
      )}
    </section>
  );
}

/** Only the rows in view are in the DOM, so 10,000 functions scroll as fast as 10. */
function VirtualTable(props: { api: Api; rows: FunctionInfo[]; complete: boolean; onNearEnd(): void }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const figures = useFigures(props.api);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    setHeight(el.clientHeight || 600);
    performance.mark("kumo:functions-rendered");
  }, [props.rows]);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(props.rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = props.rows.slice(first, last);
  useEffect(() => {
    if (!props.complete && last >= props.rows.length - PREFETCH_ROWS) props.onNearEnd();
    figures.want(visible.map((f) => f.name));
  }, [first, last, props.rows]);
  return (
    <section class="table fn-table" aria-label="Functions">
      <div class="tr th">
        <span>Name</span>
        <span>Runtime</span>
        <span>Live</span>
        <span>Invocations 24 h</span>
        <span>Errors</span>
        <span>p95</span>
      </div>
      <div
        class="scroller"
        ref={scroller}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        data-testid="function-rows"
        data-count={props.rows.length}
      >
        <div style={{ height: `${props.rows.length * ROW_HEIGHT}px`, position: "relative" }}>
          {visible.map((f, i) => {
            const m = figures.get(f.name);
            return (
              <div key={f.id} class="tr" style={{ top: `${(first + i) * ROW_HEIGHT}px` }}>
                <span class="name">
                  <a href={`/functions/${f.name}`}>{f.name}</a>
                </span>
                <span>
                  <span class="tag">{f.runtime}</span>
                </span>
                <span>{f.liveVersion ? `v${f.liveVersion}` : "–"}</span>
                <span class="spark-cell" data-testid={`invocations-${f.name}`}>
                  {m ? (
                    <>
                      <Sparkline
                        values={m.series.invocations}
                        bad={m.series.failed}
                        label={`${f.name} invocations per hour`}
                      />
                      <span>{m.invocations}</span>
                    </>
                  ) : (
                    <span class="muted">…</span>
                  )}
                </span>
                <span class={m && m.errorRate > 0 ? "bad" : ""}>{m ? fmtPct(m.errorRate) : "–"}</span>
                <span>{m ? fmtMs(m.durationMs.p95) : "–"}</span>
              </div>
            );
          })}
        </div>
      </div>
      <p class="muted small">
        {props.rows.length}
        {props.complete ? "" : "+"} functions
      </p>
    </section>
  );
}

/**
 * The 24-h figures of the names asked for, fetched in batches shortly after the view settles (not
 * on every scroll event) and kept for the page's life; a name the tenant no longer has counts as zero.
 */
function useFigures(api: Api) {
  const cache = useRef(new Map<string, FunctionFigures | null>());
  const pending = useRef(new Set<string>());
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [, setVersion] = useState(0);
  useEffect(() => () => clearTimeout(timer.current), []);
  const fetchPending = () => {
    const names = [...pending.current].filter((n) => !cache.current.has(n));
    pending.current.clear();
    for (let i = 0; i < names.length; i += FIGURES_BATCH) {
      const batch = names.slice(i, i + FIGURES_BATCH);
      for (const n of batch) cache.current.set(n, null);
      api
        .get<{ items: FunctionFigures[] }>(
          `/v1/metrics/functions?names=${batch.map(encodeURIComponent).join(",")}&from=24h`,
        )
        .then(
          (res) => {
            for (const f of res.items) cache.current.set(f.name, f);
            setVersion((v) => v + 1);
          },
          () => {
            for (const n of batch) cache.current.delete(n);
          },
        );
    }
  };
  return {
    get: (name: string) => cache.current.get(name) ?? undefined,
    want(names: string[]) {
      let added = false;
      for (const n of names)
        if (!cache.current.has(n)) {
          pending.current.add(n);
          added = true;
        }
      if (!added) return;
      clearTimeout(timer.current);
      timer.current = setTimeout(fetchPending, FIGURES_DELAY_MS);
    },
  };
}
