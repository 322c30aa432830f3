import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { type ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote } from "../components.tsx";
import { useSession } from "../session.ts";
import { TEMPLATES } from "../templates.ts";
import type { Deployment } from "../types.ts";

/** The templates gallery: pick one, name it, and it is created and deployed on the edge runtime. */
export function NewFunction() {
  const { api } = useSession();
  const location = useLocation();
  const [template, setTemplate] = useState(location.query.template ?? TEMPLATES[0]?.id ?? "");
  const [name, setName] = useState("");
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const create = async (event: Event) => {
    event.preventDefault();
    const chosen = TEMPLATES.find((t) => t.id === template);
    if (!chosen) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.send("POST", "/v1/functions", { name, runtime: "edge" });
      await api.send<Deployment>("POST", `/v1/functions/${seg(name)}/deployments`, { files: chosen.files });
      location.route(`/functions/${seg(name)}/code`);
    } catch (e) {
      setError(asApiError(e));
      setBusy(false);
    }
  };
  return (
    <section>
      <h1>New function</h1>
      <form onSubmit={create} class="stack">
        <fieldset class="templates">
          <legend>Template (edge runtime)</legend>
          {TEMPLATES.map((t) => (
            <label key={t.id} class={`card ${template === t.id ? "selected" : ""}`}>
              <input
                type="radio"
                name="template"
                value={t.id}
                checked={template === t.id}
                onChange={() => setTemplate(t.id)}
              />
              <strong>{t.title}</strong>
              <span class="muted">{t.description}</span>
            </label>
          ))}
        </fieldset>
        <label for="fn-name">Name</label>
        <input
          id="fn-name"
          required
          pattern="[a-z][a-z0-9\-]{0,62}"
          title="lowercase letters, digits and dashes, starting with a letter"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <div>
          <button type="submit" class="primary" disabled={busy || !name}>
            Create and deploy
          </button>
        </div>
        <ErrorNote error={error} />
      </form>
    </section>
  );
}
