import { useContext, useEffect, useState } from "preact/hooks";
import { ErrorBoundary, LocationProvider, Route, Router, useLocation } from "preact-iso";
import type { Api } from "./api.ts";
import { Loading } from "./components.tsx";
import { forgetKey, type Session, SessionContext, signIn, storedKey } from "./session.ts";
import type { WhoAmI } from "./types.ts";
import { Alerts } from "./views/alerts.tsx";
import { FunctionPage } from "./views/function-page.tsx";
import { FunctionsList } from "./views/functions-list.tsx";
import { Keys } from "./views/keys.tsx";
import { NewFunction } from "./views/new-function.tsx";
import { Secrets } from "./views/secrets.tsx";
import { SignIn } from "./views/sign-in.tsx";
import { Tenants } from "./views/tenants.tsx";

/** Every view has its own URL; the router keeps history, so deep links and Back work. */
export function App() {
  return (
    <LocationProvider>
      <ErrorBoundary>
        <Shell />
      </ErrorBoundary>
    </LocationProvider>
  );
}

function Shell() {
  const location = useLocation();
  const [session, setSession] = useState<{ api: Api; who: WhoAmI } | null | undefined>(undefined);

  useEffect(() => {
    const key = storedKey();
    if (!key) {
      setSession(null);
      return;
    }
    signIn(key).then(setSession, () => {
      forgetKey();
      setSession(null);
    });
  }, []);

  if (session === undefined) return <Loading />;
  if (session === null || location.path === "/signin") {
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s);
          const next = location.query.next;
          const home = s.who.role === "platform-admin" ? "/tenants" : "/functions";
          location.route(next?.startsWith("/") && !next.startsWith("//") ? next : home, true);
        }}
      />
    );
  }
  const value: Session = {
    ...session,
    signOut() {
      forgetKey();
      setSession(null);
      location.route("/signin");
    },
  };
  return (
    <SessionContext.Provider value={value}>
      <Header who={session.who} onSignOut={value.signOut} />
      <main id="main">
        <Router>
          <Route path="/" component={Home} />
          <Route path="/functions" component={FunctionsList} />
          <Route path="/new" component={NewFunction} />
          <Route path="/secrets" component={Secrets} />
          <Route path="/keys" component={Keys} />
          <Route path="/alerts" component={Alerts} />
          <Route path="/tenants" component={Tenants} />
          <Route path="/functions/:name/:tab?/:id?" component={FunctionPage} />
          <Route default component={UnknownPage} />
        </Router>
      </main>
    </SessionContext.Provider>
  );
}

function Home() {
  const location = useLocation();
  const { who } = useSessionOrNull() ?? {};
  const home = who?.role === "platform-admin" ? "/tenants" : "/functions";
  useEffect(() => location.route(home, true), [location, home]);
  return null;
}

function UnknownPage() {
  return (
    <section class="empty">
      <h1>No such page</h1>
      <a href="/functions">Functions</a>
    </section>
  );
}

const useSessionOrNull = () => useContext(SessionContext);

/** Main navigation, following the key's role: tenants for the platform admin, keys for tenant admins. */
function Header({ who, onSignOut }: { who: WhoAmI; onSignOut(): void }) {
  const { path } = useLocation();
  const links: [string, string][] =
    who.role === "platform-admin"
      ? [
          ["/tenants", "Tenants"],
          ["/keys", "Keys"],
        ]
      : [
          ["/functions", "Functions"],
          ["/alerts", "Alerts"],
          ["/secrets", "Secrets"],
          ...(who.role === "admin" ? ([["/keys", "Keys"]] as [string, string][]) : []),
        ];
  return (
    <header class="top">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <a class="brand" href={links[0]?.[0] ?? "/"}>
        Kumo
      </a>
      <nav aria-label="Main">
        {links.map(([href, label]) => (
          <a
            key={href}
            href={href}
            aria-current={path === href || path.startsWith(`${href}/`) ? "page" : undefined}
          >
            {label}
          </a>
        ))}
      </nav>
      <span class="who" data-testid="who">
        {who.tenant ? who.tenant.name : "platform"} · <span data-testid="role">{who.role}</span>
      </span>
      <button type="button" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}
