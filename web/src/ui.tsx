// Small shared pieces. Everything shown here that came from an agent or a person is a React text node.
import { useState, type ReactNode } from "react";
import { useNow } from "./live";

export function Status({ value }: { value: string }) {
  return <span className={`status status-${value.replace(/[^a-z_]/g, "")}`}>{value}</span>;
}

export function age(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "unknown";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function Age({ at }: { at: string | null | undefined }) {
  const now = useNow();
  return (
    <time dateTime={at ?? undefined} title={at ?? undefined}>
      {age(at, now)}
    </time>
  );
}

export function money(n: unknown): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return "—";
  // Agent runs cost fractions of a cent: below a dollar, four decimals.
  return `$${n.toFixed(n > 0 && n < 1 ? 4 : 2)}`;
}

export function ErrorText({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error}
    </p>
  );
}

/** A button that runs an async action, shows it is busy, and shows the server's refusal next to it. */
export function ActionButton({
  label,
  run,
  disabled,
  className,
  onDone,
}: {
  label: string;
  run: () => Promise<unknown>;
  disabled?: boolean;
  className?: string;
  onDone?: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="action">
      <button
        type="button"
        className={className}
        disabled={disabled || busy}
        onClick={() => {
          setBusy(true);
          setError(null);
          run().then(
            () => {
              setBusy(false);
              onDone?.();
            },
            (err: unknown) => {
              setBusy(false);
              setError(err instanceof Error ? err.message : String(err));
            },
          );
        }}
      >
        {label}
      </button>
      {error ? (
        <span className="error" role="alert">
          {error}
        </span>
      ) : null}
    </span>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="panel">
      <header className="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** Any JSON value as indented text (never HTML). */
export function JsonText({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

/** A link only for http(s) URLs; anything else an agent wrote stays text. */
export function SafeLink({ url }: { url: unknown }) {
  if (typeof url !== "string") return <>—</>;
  let ok = false;
  try {
    const u = new URL(url);
    ok = u.protocol === "https:" || u.protocol === "http:";
  } catch {
    ok = false;
  }
  return ok ? (
    <a href={url} target="_blank" rel="noopener noreferrer">
      {url}
    </a>
  ) : (
    <span>{url}</span>
  );
}
