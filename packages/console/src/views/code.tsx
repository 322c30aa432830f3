import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote, fmtMs, Loading } from "../components.tsx";
import { deployFiles } from "../deploy-files.ts";
import type { EditorHandle } from "../editor/monaco.ts";
import { canWrite, useSession } from "../session.ts";
import type { Deployment, DraftRun, FunctionInfo, SourceFiles } from "../types.ts";
import { useLoad } from "../use-load.ts";
import { LogList } from "./invocations.tsx";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** The deployed source in Monaco; Test runs the unsaved draft, Deploy makes it a version. */
export function CodeView({ fn, onDeployed }: { fn: FunctionInfo; onDeployed(): void }) {
  const { api, who } = useSession();
  const writer = canWrite(who.role);
  const base = `/v1/functions/${seg(fn.name)}`;
  const source = useLoad(
    (signal) =>
      fn.liveVersion
        ? api.get<SourceFiles>(`${base}/versions/${fn.liveVersion}/source`, signal)
        : Promise.resolve<SourceFiles>({
            version: 0,
            source: "files",
            files: {
              "index.ts": "export default {\n  fetch() {\n    return new Response('hello');\n  },\n};\n",
            },
          }),
    [api, base, fn.liveVersion],
  );
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<EditorHandle | null>(null);
  const [current, setCurrent] = useState("");
  const [ready, setReady] = useState(false);
  const [sample, setSample] = useSavedSample(`${who.tenant?.name ?? "platform"}/${fn.name}`);
  const [run, setRun] = useState<DraftRun>();
  const [deployment, setDeployment] = useState<Deployment>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState<"" | "test" | "deploy">("");
  const actions = useRef({ test: () => {}, deploy: () => {} });

  const paths = Object.keys(source.data?.files ?? {}).sort();
  useEffect(() => {
    const files = source.data?.files;
    const el = host.current;
    if (!files || !el) return;
    let handle: EditorHandle | undefined;
    let cancelled = false;
    const first = ["index.ts", "index.js", ...Object.keys(files)].find((p) => p in files) ?? "";
    setCurrent(first);
    import("../editor/monaco.ts")
      .then((m) =>
        m.createEditor(el, files, first, {
          readOnly: !writer,
          onSave: () => actions.current.deploy(),
          onTest: () => actions.current.test(),
        }),
      )
      .then(
        (h) => {
          handle = h;
          if (cancelled) h.dispose();
          else {
            editor.current = h;
            setReady(true);
          }
        },
        (e: unknown) => setError(new ApiError(0, "CLIENT", `the editor did not load: ${String(e)}`)),
      );
    return () => {
      cancelled = true;
      handle?.dispose();
      editor.current = null;
      setReady(false);
    };
  }, [source.data, writer]);

  const fail = (e: unknown) => setError(asApiError(e));
  const test = async () => {
    const files = editor.current?.files();
    if (!files || busy) return;
    setBusy("test");
    setError(undefined);
    try {
      let headers: Record<string, string> = {};
      try {
        headers = sample.headers.trim() ? (JSON.parse(sample.headers) as Record<string, string>) : {};
      } catch {
        throw new ApiError(0, "CLIENT", 'the sample headers must be a JSON object, e.g. {"x-a": "1"}');
      }
      const [path = "/", query = ""] = sample.path.split("?", 2);
      setRun(
        await api.send<DraftRun>("POST", `${base}/draft-runs`, {
          files,
          request: {
            method: sample.method,
            path,
            ...(query ? { query } : {}),
            headers,
            ...(sample.body && sample.method !== "GET" ? { body: sample.body } : {}),
          },
        }),
      );
    } catch (e) {
      fail(e);
    } finally {
      setBusy("");
    }
  };
  const deploy = async () => {
    const files = editor.current?.files();
    if (!files || busy || !writer) return;
    setBusy("deploy");
    setError(undefined);
    try {
      const status = await deployFiles(api, fn.name, files, setDeployment);
      if (status.status === "succeeded") onDeployed();
    } catch (e) {
      fail(e);
    } finally {
      setBusy("");
    }
  };
  actions.current = { test: () => void test(), deploy: () => void deploy() };

  if (source.error) return <ErrorNote error={source.error} />;
  if (!source.data) return <Loading />;
  return (
    <div class="code">
      <div class="row between">
        <div class="files" role="tablist" aria-label="Files">
          {paths.map((p) => (
            <button
              key={p}
              type="button"
              role="tab"
              aria-selected={p === current}
              onClick={() => {
                editor.current?.open(p);
                setCurrent(p);
              }}
            >
              {p}
            </button>
          ))}
        </div>
        {writer && (
          <div class="row">
            <button
              type="button"
              onClick={() => void test()}
              disabled={!ready || busy !== ""}
              title="Ctrl/Cmd-Enter"
            >
              {busy === "test" ? "Testing…" : "Test"}
            </button>
            <button
              type="button"
              class="primary"
              onClick={() => void deploy()}
              disabled={!ready || busy !== ""}
              title="Ctrl/Cmd-S"
            >
              {busy === "deploy" ? "Deploying…" : "Deploy"}
            </button>
          </div>
        )}
      </div>
      {source.data.source === "bundle" && (
        <p class="muted">This version was deployed before sources were kept: you see its bundle.</p>
      )}
      <div class="editor" ref={host} data-testid="editor" data-ready={ready ? "true" : "false"} />
      <p class="muted small" id="editor-keys">
        Keyboard: Ctrl/Cmd-Enter tests, Ctrl/Cmd-S deploys. Tab indents inside the editor; press Ctrl-M
        (Ctrl-Shift-M on macOS) to make Tab move focus out of it, and Alt-F1 for the editor's accessibility
        help.
      </p>
      <ErrorNote error={error} />
      {deployment && (
        <div class="panel" data-testid="deployment">
          <b>Deployment {deployment.status}</b>
          {deployment.version ? ` · v${deployment.version} is live` : ""}
          {deployment.error && ` · ${deployment.error.code}: ${deployment.error.message}`}
          {deployment.log && <pre class="logs">{deployment.log}</pre>}
        </div>
      )}
      {writer && (
        <form
          class="panel sample"
          aria-label="Test request"
          onSubmit={(e) => {
            e.preventDefault();
            void test();
          }}
        >
          <b>Test request</b>
          <div class="row">
            <select
              aria-label="Method"
              value={sample.method}
              onChange={(e) => setSample({ ...sample, method: e.currentTarget.value })}
            >
              {METHODS.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
            <input
              aria-label="Path and query"
              value={sample.path}
              onInput={(e) => setSample({ ...sample, path: e.currentTarget.value })}
            />
          </div>
          <label>
            Headers (JSON)
            <textarea
              rows={2}
              value={sample.headers}
              onInput={(e) => setSample({ ...sample, headers: e.currentTarget.value })}
            />
          </label>
          <label>
            Body
            <textarea
              rows={3}
              value={sample.body}
              onInput={(e) => setSample({ ...sample, body: e.currentTarget.value })}
            />
          </label>
        </form>
      )}
      {run && (
        <div class="panel" data-testid="draft-result">
          <b>
            Draft response <span data-testid="draft-status">{run.status}</span>
          </b>{" "}
          <span class="muted">
            {fmtMs(run.durationMs)} · {run.coldStart}
            {run.error ? ` · ${run.error.code}: ${run.error.message}` : ""}
          </span>
          <details>
            <summary>Headers</summary>
            <pre>{run.headers.map(([k, v]) => `${k}: ${v}`).join("\n")}</pre>
          </details>
          <pre class="body" data-testid="draft-body">
            {run.bodyEncoding === "base64" ? `(base64) ${run.body}` : run.body}
            {run.truncated ? "\n… (truncated)" : ""}
          </pre>
          <b>Logs</b>
          <LogList logs={run.logs} />
        </div>
      )}
    </div>
  );
}

interface Sample {
  method: string;
  path: string;
  headers: string;
  body: string;
}
const DEFAULT_SAMPLE: Sample = { method: "GET", path: "/", headers: "{}", body: "" };

/**
 * The Test request, kept per function in this browser (localStorage): the payload someone tunes
 * for a function is the one they want next time. Only the request is stored, never the key.
 */
function useSavedSample(id: string): [Sample, (s: Sample) => void] {
  const storageKey = `kumo.sample.${id}`;
  const [sample, setSample] = useState<Sample>(() => {
    try {
      const saved: unknown = JSON.parse(localStorage.getItem(storageKey) ?? "null");
      return saved && typeof saved === "object"
        ? { ...DEFAULT_SAMPLE, ...(saved as Partial<Sample>) }
        : DEFAULT_SAMPLE;
    } catch {
      return DEFAULT_SAMPLE;
    }
  });
  const save = (next: Sample) => {
    setSample(next);
    try {
      localStorage.setItem(storageKey, JSON.stringify(next));
    } catch {
      // Storage full or disabled: the sample still works for this visit.
    }
  };
  return [sample, save];
}
