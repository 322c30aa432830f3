import * as monaco from "monaco-editor";
import EditorWorker from "monaco-editor/editor/editor.worker?worker";
import JsonWorker from "monaco-editor/language/json/json.worker?worker";
import TsWorker from "monaco-editor/language/typescript/ts.worker?worker";
import kumoTypes from "./kumo-env.d.ts.txt?raw";

/**
 * Monaco, set up once, in its own lazily loaded chunk: its workers are bundled by Vite (`?worker`)
 * and served by the gateway like the rest, so the editor needs nothing from a CDN.
 */
self.MonacoEnvironment = {
  getWorker(_id: string, label: string) {
    if (label === "json") return new JsonWorker();
    if (label === "typescript" || label === "javascript") return new TsWorker();
    return new EditorWorker();
  },
};

const ts = monaco.typescript;
ts.typescriptDefaults.setCompilerOptions({
  target: ts.ScriptTarget.ES2020,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.NodeJs,
  lib: ["es2022", "dom"],
  strict: true,
  allowNonTsExtensions: true,
  noEmit: true,
});
ts.typescriptDefaults.addExtraLib(kumoTypes, "file:///node_modules/@types/kumo/index.d.ts");

let schemaLoaded = false;
/** kumo.json is checked against the platform's own schema (GET /v1/schema/kumo.json, no key needed). */
async function loadKumoJsonSchema(): Promise<void> {
  if (schemaLoaded) return;
  schemaLoaded = true;
  const schema: unknown = await (await fetch("/v1/schema/kumo.json")).json();
  monaco.json.jsonDefaults.setDiagnosticsOptions({
    validate: true,
    enableSchemaRequest: false,
    schemas: [{ uri: `${location.origin}/v1/schema/kumo.json`, fileMatch: ["kumo.json"], schema }],
  });
}

export interface EditorHandle {
  /** Current text of every file. */
  files(): Record<string, string>;
  open(path: string): void;
  dispose(): void;
}

export interface EditorOptions {
  readOnly: boolean;
  onSave(): void;
  onTest(): void;
}

const languageOf = (path: string) =>
  path.endsWith(".json") ? "json" : /\.(ts|tsx|mts)$/.test(path) ? "typescript" : "javascript";

/** One model per file of the function; Ctrl/Cmd-S deploys, Ctrl/Cmd-Enter tests. */
export async function createEditor(
  element: HTMLElement,
  files: Record<string, string>,
  first: string,
  options: EditorOptions,
): Promise<EditorHandle> {
  await loadKumoJsonSchema().catch(() => undefined);
  const stamp = Date.now().toString(36);
  const models = new Map<string, monaco.editor.ITextModel>();
  for (const [path, text] of Object.entries(files)) {
    const uri = monaco.Uri.parse(`file:///${stamp}/${path}`);
    models.set(path, monaco.editor.createModel(text, languageOf(path), uri));
  }
  const editor = monaco.editor.create(element, {
    model: models.get(first) ?? null,
    automaticLayout: true,
    minimap: { enabled: false },
    fontSize: 13,
    readOnly: options.readOnly,
    scrollBeyondLastLine: false,
    tabSize: 2,
    // Screen readers announce which file is open; Monaco's own accessibility help is Alt-F1.
    ariaLabel: `Source of ${first}`,
  });
  editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS, () => options.onSave());
  editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => options.onTest());
  editor.focus();
  return {
    files: () => Object.fromEntries([...models].map(([path, model]) => [path, model.getValue()])),
    open(path) {
      const model = models.get(path);
      if (!model) return;
      editor.setModel(model);
      editor.updateOptions({ ariaLabel: `Source of ${path}` });
    },
    dispose() {
      editor.dispose();
      for (const model of models.values()) model.dispose();
    },
  };
}
