import { useState } from "preact/hooks";
import type { Api } from "../api.ts";
import { type ApiError, asApiError } from "../api.ts";
import { ErrorNote } from "../components.tsx";
import { signIn, storeKey } from "../session.ts";
import type { WhoAmI } from "../types.ts";

/** Sign in with an API key (`kumo keys create`, or the tenant's first admin key). */
export function SignIn({ onSignedIn }: { onSignedIn(session: { api: Api; who: WhoAmI }): void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const session = await signIn(key.trim());
      storeKey(key.trim());
      onSignedIn(session);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Kumo Console</h1>
        <p class="muted">Sign in with an API key. It is kept in this tab only.</p>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={busy || key.trim() === ""}>
          Sign in
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  );
}
