// The shell: sign-in, navigation, the live indicator, and the screen of the current address. The event
// stream is opened once per signed-in tab and closed on sign out.
import { useEffect, useState } from "react";
import { clearToken, getToken, onUnauthorized, setToken } from "./api";
import { EventStream } from "./events";
import { StreamContext, useStreamState } from "./live";
import { useRoute, type Route } from "./router";
import { ErrorText } from "./ui";
import { Inbox } from "./screens/Inbox";
import { Missions } from "./screens/Missions";
import { MissionBoard } from "./screens/MissionBoard";
import { TaskPage } from "./screens/TaskPage";
import { Agents } from "./screens/Agents";
import { TracePage } from "./screens/TracePage";
import { Knowledge } from "./screens/Knowledge";
import { Objectives } from "./screens/Objectives";
import { Policies } from "./screens/Policies";

const NAV: Array<[Route["name"], string, string]> = [
  ["inbox", "Inbox", "#/inbox"],
  ["missions", "Missions", "#/missions"],
  ["agents", "Agents", "#/agents"],
  ["trace", "Trace", "#/trace"],
  ["knowledge", "Knowledge", "#/knowledge"],
  ["objectives", "Objectives", "#/objectives"],
  ["policies", "Policies", "#/policies"],
];

/** How long screens wait for the event stream to open before they read the API without it. */
const OPEN_WAIT_MS = 3_000;

export function App() {
  const [token, setTok] = useState(getToken);
  const [notice, setNotice] = useState<string | null>(null);
  const signOut = (why: string | null) => {
    clearToken();
    setTok(null);
    setNotice(why);
  };
  useEffect(() => onUnauthorized(() => signOut("The token was not accepted: sign in again.")), []);
  if (!token) return <SignIn notice={notice} onSignedIn={(t) => (setToken(t), setNotice(null), setTok(t))} />;
  return <Console key={token} onSignOut={() => signOut(null)} />;
}

function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (token: string) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);
  return (
    <main className="signin">
      <h1>Mission Control</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const t = value.trim();
          if (!t) return setError("Enter a token.");
          setBusy(true);
          setError(null);
          // Checked before it is kept: an unknown token is 401, an agent's token 403 (it cannot run the console).
          fetch("/api/missions?limit=1", { headers: { authorization: `Bearer ${t}` } })
            .then((r) => {
              setBusy(false);
              if (r.ok) onSignedIn(t);
              else if (r.status === 401) setError("This token is not valid.");
              else if (r.status === 403)
                setError("This token cannot use the console (an agent's token?). Use a member or admin token.");
              else setError(`The server answered ${r.status}.`);
            })
            .catch(() => {
              setBusy(false);
              setError("The server cannot be reached.");
            });
        }}
      >
        <label htmlFor="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorText error={error} />
        <p className="hint">
          A member or admin token: the admin token the server printed on its first start (kept in{" "}
          <code>data/admin-token</code>), or one made with it (<code>mc tokens create --role member</code>). It is kept
          in this tab only.
        </p>
      </form>
    </main>
  );
}

function Console({ onSignOut }: { onSignOut: () => void }) {
  const [stream] = useState(() => new EventStream("/api/events", getToken, () => onSignOut()));
  // The stream opens before any screen reads the API, so whatever changes after a screen's read arrives on
  // it. If it is slow to open (a proxy holding it), the screen shows anyway after OPEN_WAIT_MS and reads
  // again once the stream is open (useConnected).
  const [ready, setReady] = useState(false);
  useEffect(() => {
    const off = stream.onConnected(() => setReady(true));
    const timer = setTimeout(() => setReady(true), OPEN_WAIT_MS);
    stream.start();
    return () => {
      off();
      clearTimeout(timer);
      stream.stop();
    };
  }, [stream]);
  const route = useRoute();
  return (
    <StreamContext.Provider value={stream}>
      <header className="top">
        <a className="brand" href="#/inbox">
          Mission Control
        </a>
        <nav>
          {NAV.map(([name, label, h]) => (
            <a key={name} href={h} aria-current={route.name === name ? "page" : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <LiveIndicator />
        <button type="button" className="quiet" onClick={() => (stream.stop(), onSignOut())}>
          Sign out
        </button>
      </header>
      <main className="content">{ready ? <Screen route={route} /> : <p className="muted">Connecting…</p>}</main>
    </StreamContext.Provider>
  );
}

function LiveIndicator() {
  const state = useStreamState();
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite">
      {state === "live" ? "Live" : "Reconnecting"}
    </span>
  );
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case "inbox":
      return <Inbox />;
    case "missions":
      return <Missions />;
    case "mission":
      return <MissionBoard key={route.id} id={route.id} />;
    case "task":
      return <TaskPage key={route.id} id={route.id} />;
    case "agents":
      return <Agents />;
    case "trace":
      return <TracePage />;
    case "knowledge":
      return <Knowledge />;
    case "objectives":
      return <Objectives />;
    case "policies":
      return <Policies />;
    case "not_found":
      return <p>Nothing at {route.path}.</p>;
  }
}
