// Load generation: autocannon (as a library) for throughput at N connections, and a plain sequential client
// for the latency targets. Latencies are taken from every response (autocannon's own histogram rounds to
// whole milliseconds), percentiles over 2xx responses only; any non-2xx or error is counted and reported.
import autocannon from "autocannon";

export interface RequestSpec {
  method: "GET" | "POST" | "PATCH";
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  durationS: number;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

class Latencies {
  private buf = new Float64Array(1 << 16);
  private n = 0;
  push(v: number) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  summary() {
    const s = this.buf.slice(0, this.n).sort();
    let sum = 0;
    for (const v of s) sum += v;
    return { count: this.n, p50: percentile(s, 50), p99: percentile(s, 99), mean: this.n ? sum / this.n : NaN };
  }
}

function toAutocannon(spec: RequestSpec): autocannon.Request {
  const headers: Record<string, string> = { ...(spec.headers ?? {}) };
  let body: string | undefined;
  if (spec.body !== undefined) {
    body = JSON.stringify(spec.body);
    headers["content-type"] = "application/json";
  }
  return { method: spec.method, path: spec.path, headers, body };
}

/** Sends one request as the load generator would, and returns the answer. */
export function fetchSpec(url: string, spec: RequestSpec): Promise<Response> {
  const { method, headers, body } = toAutocannon(spec);
  return fetch(url + spec.path, { method, headers: headers as Record<string, string>, body });
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  /** Called for every request sent. */
  next: () => RequestSpec;
}

async function once(opts: LoadOptions, record: boolean): Promise<LoadResult> {
  const lat = new Latencies();
  const codes: Record<string, number> = {};
  const first = toAutocannon(opts.next());
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.durationS,
    timeout: 30,
    method: first.method,
    // setupRequest must return the request it is given, changed: a fresh object loses the host and port
    // defaults, and autocannon then sends `Host: undefined:undefined`.
    requests: [
      {
        setupRequest: (req: autocannon.Request) => {
          const spec = toAutocannon(opts.next());
          return { ...req, ...spec, headers: { ...(req.headers ?? {}), ...spec.headers } };
        },
      },
    ],
  });
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    codes[statusCode] = (codes[statusCode] ?? 0) + 1;
    if (record && statusCode >= 200 && statusCode < 300) lat.push(responseTime);
  });
  const r = await instance;
  const s = lat.summary();
  const ok = s.count;
  return {
    requests: ok,
    rps: ok / r.duration,
    p50: s.p50,
    p99: s.p99,
    mean: s.mean,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    statusCodes: codes,
    durationS: r.duration,
  };
}

/** Warm-up (discarded), then (after `between`, e.g. waiting for the server to catch up) the measured run. */
export async function load(
  opts: LoadOptions & { warmupS: number; between?: () => Promise<void> },
): Promise<LoadResult> {
  if (opts.warmupS > 0) {
    await once({ ...opts, durationS: opts.warmupS }, false);
    await opts.between?.();
  }
  return once(opts, true);
}

/**
 * One client, one request at a time, for `durationS` (and at least `minSamples` requests): the latency a
 * single caller sees, body read to the end.
 */
export async function sequential(opts: {
  url: string;
  durationS: number;
  warmupCount: number;
  minSamples: number;
  next: () => RequestSpec;
}): Promise<LoadResult & { samples: number[] }> {
  const lat = new Latencies();
  const samples: number[] = [];
  const codes: Record<string, number> = {};
  let errors = 0;
  let non2xx = 0;
  const send = async (record: boolean) => {
    const spec = opts.next();
    const a = toAutocannon(spec);
    const t0 = performance.now();
    try {
      const r = await fetch(opts.url + spec.path, {
        method: spec.method,
        headers: a.headers,
        body: a.body as string | undefined,
      });
      await r.arrayBuffer();
      const ms = performance.now() - t0;
      if (!record) return;
      codes[r.status] = (codes[r.status] ?? 0) + 1;
      if (r.status >= 200 && r.status < 300) {
        lat.push(ms);
        samples.push(ms);
      } else non2xx++;
    } catch {
      if (record) errors++;
    }
  };
  for (let i = 0; i < opts.warmupCount; i++) await send(false);
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < opts.durationS * 1000 || n < opts.minSamples) {
    await send(true);
    n++;
  }
  const durationS = (performance.now() - start) / 1000;
  const s = lat.summary();
  return {
    requests: s.count,
    rps: s.count / durationS,
    p50: s.p50,
    p99: s.p99,
    mean: s.mean,
    errors,
    non2xx,
    statusCodes: codes,
    durationS,
    samples,
  };
}
