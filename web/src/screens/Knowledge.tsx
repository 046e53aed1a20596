// Knowledge search: the best matches for a query, the title as text and the snippet as text runs with the
// query's matches highlighted (never as markup: a document's content may come from an agent).
import { Fragment, useState } from "react";
import { snippetParts } from "../../../src/client/index.js";
import { api, ok, type SearchHit } from "../api";
import { ErrorText } from "../ui";

export function Knowledge() {
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <h1>Knowledge</h1>
      <form
        className="inline"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (!q.trim()) return;
          ok(api.POST("/api/knowledge/search", { body: { query: q.trim(), limit: 20 } })).then(
            (r) => (setHits(r.data), setError(null)),
            (err: Error) => setError(err.message),
          );
        }}
      >
        <label>
          Search <input type="search" value={q} onChange={(e) => setQ(e.target.value)} />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorText error={error} />
      {hits && hits.length === 0 ? <p className="muted">No matches.</p> : null}
      <ol className="hits">
        {(hits ?? []).map((h) => (
          <li key={String(h.document_id)}>
            <strong>{h.title}</strong> <span className="muted small">score {h.score.toFixed(3)}</span>
            <p className="snippet">
              {snippetParts(h.snippet).map((p, i) =>
                p.match ? <mark key={i}>{p.text}</mark> : <Fragment key={i}>{p.text}</Fragment>,
              )}
            </p>
          </li>
        ))}
      </ol>
    </>
  );
}
