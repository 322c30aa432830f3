import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { Api } from "./api.ts";
import type { Role, WhoAmI } from "./types.ts";

const KEY = "kumo.apiKey";

/** Who is signed in: the key lives in sessionStorage only (gone with the tab), never in a cookie. */
export interface Session {
  api: Api;
  who: WhoAmI;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in view");
  return session;
}

export const storedKey = (): string | null => sessionStorage.getItem(KEY);
export const storeKey = (key: string): void => sessionStorage.setItem(KEY, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY);

/** Checks a key against GET /v1/whoami; throws the API's error when it is not valid. */
export async function signIn(key: string): Promise<{ api: Api; who: WhoAmI }> {
  const api = new Api(key);
  return { api, who: await api.get<WhoAmI>("/v1/whoami") };
}

const WRITERS: readonly Role[] = ["admin", "developer"];
/** The UI follows the server's roles: only these may deploy, test drafts, roll back or set secrets. */
export const canWrite = (role: Role): boolean => WRITERS.includes(role);
export const canInvoke = (role: Role): boolean => canWrite(role) || role === "invoker";
