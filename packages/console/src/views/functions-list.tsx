import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ErrorNote, fmtMs, fmtPct } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { FunctionInfo, Metrics, Page, TenantMetrics } from "../types.ts";
import { useLoad } from "../use-load.ts";

const ROW_HEIGHT = 44;
const OVERSCAN = 10;

/** Every function of the tenant (paged from the API), with the last 24 hours of the busiest. */
async function loadFunctions(api: ReturnType<typeof useSession>["api"], signal: AbortSignal) {
  const all: FunctionInfo[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const page: Page<FunctionInfo> = await api.get(`/v1/functions?limit=500${q}`, signal);
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  performance.mark("kumo:functions-loaded");
  return all;
}

export function FunctionsList() {
  const { api, who } = useSession();
  const location = useLocation();
  const search = location.query.q ?? "";
  const functions = useLoad((signal) => loadFunctions(api, signal), [api]);
  const metrics = useLoad(
    (signal) => api.get<TenantMetrics>("/v1/metrics?from=24h&limit=100", signal),
    [api],
  );
  const byName = useMemo(() => {
    const map = new Map<string, Metrics>();
    for (const list of [metrics.data?.topByP95, metrics.data?.topByErrors, metrics.data?.topByInvocations])
      for (const m of list ?? []) map.set(m.name, m);
    return map;
  }, [metrics.data]);
  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const all = functions.data ?? [];
    return needle ? all.filter((f) => f.name.includes(needle) || f.runtime.includes(needle)) : all;
  }, [functions.data, search]);

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
          value={search}
          onInput={(e) => {
            const q = e.currentTarget.value;
            location.route(q ? `/functions?q=${encodeURIComponent(q)}` : "/functions", true);
          }}
        />
      </label>
      <ErrorNote error={functions.error} />
      {functions.data && functions.data.length === 0 && (
        <p class="empty">
          No functions yet. {canWrite(who.role) ? <a href="/new">Create one from a template.</a> : null}
        </p>
      )}
      {functions.data && functions.data.length > 0 && (
        <VirtualTable rows={shown} metrics={byName} total={functions.data.length} />
      )}
    </section>
  );
}

/** Only the rows in view are in the DOM, so 10,000 functions scroll and filter as fast as 10. */
function VirtualTable(props: { rows: FunctionInfo[]; metrics: Map<string, Metrics>; total: number }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    setHeight(el.clientHeight || 600);
    performance.mark("kumo:functions-rendered");
  }, [props.rows]);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(props.rows.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = props.rows.slice(first, last);
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
            const m = props.metrics.get(f.name);
            return (
              <div key={f.id} class="tr" style={{ top: `${(first + i) * ROW_HEIGHT}px` }}>
                <span class="name">
                  <a href={`/functions/${f.name}`}>{f.name}</a>
                </span>
                <span>
                  <span class="tag">{f.runtime}</span>
                </span>
                <span>{f.liveVersion ? `v${f.liveVersion}` : "–"}</span>
                <span>{m ? m.invocations : 0}</span>
                <span class={m && m.errorRate > 0 ? "bad" : ""}>{m ? fmtPct(m.errorRate) : "–"}</span>
                <span>{m ? fmtMs(m.durationMs.p95) : "–"}</span>
              </div>
            );
          })}
        </div>
      </div>
      <p class="muted small">
        {props.rows.length} of {props.total} functions
      </p>
    </section>
  );
}
