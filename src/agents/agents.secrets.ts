// Agent `config` holds adapter settings, which may include credentials. They are stored as given (the
// adapters need them) but never leave the server: every response and every trace entry goes through
// `redactConfig`. A key looks secret when its name contains token, key, secret or password, in any case,
// at any depth (inside nested objects and arrays); its whole value is replaced, whatever its type.
export const REDACTED = "[REDACTED]";

const SECRET_KEY_RE = /token|key|secret|password/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY_RE.test(key);
}

function redactValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactValue);
  if (v !== null && typeof v === "object") return redactConfig(v as Record<string, unknown>);
  return v;
}

/** A copy of `config` with every value under a secret-looking key replaced by `REDACTED`. */
export function redactConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) out[k] = isSecretKey(k) ? REDACTED : redactValue(v);
  return out;
}

function restoreValue(next: unknown, prev: unknown): unknown {
  if (Array.isArray(next)) {
    return next.map((item, i) => restoreValue(item, Array.isArray(prev) ? prev[i] : undefined));
  }
  if (next !== null && typeof next === "object") {
    const p =
      prev !== null && typeof prev === "object" && !Array.isArray(prev) ? (prev as Record<string, unknown>) : {};
    return restoreRedacted(next as Record<string, unknown>, p);
  }
  return next;
}

/**
 * A client that reads an agent, edits its config and sends it back sends `REDACTED` where the secrets were.
 * That must not overwrite them: a secret-looking key whose new value is exactly `REDACTED` keeps the value
 * stored at the same path (and is dropped when nothing is stored there, rather than saving the marker).
 */
export function restoreRedacted(next: Record<string, unknown>, prev: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) {
    if (isSecretKey(k) && v === REDACTED) {
      if (Object.prototype.hasOwnProperty.call(prev, k)) out[k] = prev[k];
      continue;
    }
    out[k] = isSecretKey(k) ? v : restoreValue(v, own(prev, k));
  }
  return out;
}

/** `obj[key]` for own properties only: a config key named `toString` must not find Object.prototype's. */
function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}
