import { lazy, useLocation, useRoute } from "preact-iso";
import { seg } from "../api.ts";
import { ErrorNote, Loading, NotFound } from "../components.tsx";
import { useSession } from "../session.ts";
import type { FunctionInfo } from "../types.ts";
import { useLoad } from "../use-load.ts";
import { Deployments } from "./deployments.tsx";
import { Invocations, InvocationView } from "./invocations.tsx";
import { LogTail } from "./log-tail.tsx";
import { Overview } from "./overview.tsx";
import { Settings } from "./settings.tsx";
import { Triggers } from "./triggers.tsx";
import { Versions } from "./versions.tsx";

/** The code view pulls in Monaco: loaded only when someone opens it. */
const CodeView = lazy(() => import("./code.tsx").then((m) => m.CodeView));

const TABS = [
  ["", "Overview"],
  ["code", "Code"],
  ["invocations", "Invocations"],
  ["logs", "Logs"],
  ["versions", "Versions"],
  ["deployments", "Deployments"],
  ["triggers", "Triggers"],
  ["settings", "Settings"],
] as const;

export function FunctionPage() {
  const { params } = useRoute();
  const name = params.name ?? "";
  const tab = params.tab ?? "";
  const { api } = useSession();
  const fn = useLoad((signal) => api.get<FunctionInfo>(`/v1/functions/${seg(name)}`, signal), [api, name]);
  if (fn.error?.status === 404) return <NotFound what={`Function "${name}"`} />;
  if (fn.error) return <ErrorNote error={fn.error} />;
  if (!fn.data) return <Loading />;
  const base = `/functions/${seg(name)}`;
  return (
    <section>
      <div class="row between">
        <h1>
          {fn.data.name} <span class="tag">{fn.data.runtime}</span>{" "}
          <span class="muted small" data-testid="live-version">
            {fn.data.liveVersion ? `live v${fn.data.liveVersion}` : "not deployed"}
          </span>
        </h1>
        <a class="url" href={fn.data.url} target="_blank" rel="noreferrer">
          {fn.data.url}
        </a>
      </div>
      <nav class="tabs" aria-label="Function">
        {TABS.map(([id, label]) => (
          <a key={id} href={id ? `${base}/${id}` : base} aria-current={tab === id ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {tab === "" && <Overview fn={fn.data} />}
      {tab === "code" && <CodeView fn={fn.data} onDeployed={fn.reload} />}
      {tab === "invocations" && !params.id && <Invocations fn={fn.data} />}
      {tab === "invocations" && params.id && <InvocationView id={params.id} fn={fn.data} />}
      {tab === "logs" && <Logs fn={fn.data} />}
      {tab === "versions" && <Versions fn={fn.data} onChanged={fn.reload} />}
      {tab === "deployments" && <Deployments fn={fn.data} id={params.id} />}
      {tab === "triggers" && <Triggers fn={fn.data} id={params.id} />}
      {tab === "settings" && <Settings fn={fn.data} onDeployed={fn.reload} />}
    </section>
  );
}

/** The logs tab: the filters are in the URL (?q=&level=warn,error), so a filtered live tail is a link. */
function Logs({ fn }: { fn: FunctionInfo }) {
  const location = useLocation();
  const q = location.query.q ?? "";
  const levels = (location.query.level ?? "").split(",").filter(Boolean);
  const setFilters = (nq: string, nl: string[]) => {
    const next = new URLSearchParams();
    if (nq) next.set("q", nq);
    if (nl.length) next.set("level", nl.join(","));
    location.route(`/functions/${seg(fn.name)}/logs${next.size ? `?${next}` : ""}`, true);
  };
  return <LogTail functionName={fn.name} filters={{ q, levels, setFilters }} />;
}
