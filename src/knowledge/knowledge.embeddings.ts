// Client for an OpenAI-compatible `POST /v1/embeddings` endpoint (OpenAI, Ollama, vLLM, LM Studio,
// llama.cpp all accept `{"model", "input": [..]}` and answer `{"data": [{"index", "embedding"}]}`). Every
// failure is an EmbeddingsError whose message is safe to log and store: it never contains the API key or the
// input text.
import type { EmbeddingsConfig } from "../config.js";

/** pgvector's limit for the `vector` type. */
export const MAX_DIMENSIONS = 16_000;

export class EmbeddingsError extends Error {
  constructor(
    message: string,
    /** The HTTP status the endpoint answered, when it answered. */
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = "EmbeddingsError";
  }

  /**
   * 400, 413 and 422 refuse the request's content (often one over-long input); anything else (401 for a bad key,
   * 404 for a wrong URL, 429, 5xx, no answer) is about the endpoint.
   */
  get rejected(): boolean {
    return this.status === 400 || this.status === 413 || this.status === 422;
  }
}

export interface EmbeddingsClient {
  readonly model: string;
  /** One vector per input, in input order, all of the same dimension. */
  embed(inputs: string[], opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<number[][]>;
}

export function createEmbeddingsClient(cfg: EmbeddingsConfig, fetchImpl: typeof fetch = fetch): EmbeddingsClient {
  async function embed(inputs: string[], opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number[][]> {
    if (inputs.length === 0) return [];
    const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30_000)];
    if (opts.signal) signals.push(opts.signal);
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (cfg.apiKey) headers.authorization = `Bearer ${cfg.apiKey}`;
    let res: Response;
    let text: string;
    try {
      res = await fetchImpl(cfg.url, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: cfg.model, input: inputs }),
        signal: AbortSignal.any(signals),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error;
      const why = e.name === "TimeoutError" ? "timed out" : e.name === "AbortError" ? "was aborted" : "failed";
      const code = (e.cause as { code?: unknown } | undefined)?.code;
      throw new EmbeddingsError(`embeddings request ${why}${typeof code === "string" ? ` (${code})` : ""}`);
    }
    if (!res.ok) {
      throw new EmbeddingsError(`embeddings endpoint answered ${res.status}`, res.status);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new EmbeddingsError("embeddings endpoint answered with invalid JSON", res.status);
    }
    return parseResponse(body, inputs.length);
  }
  return { model: cfg.model, embed };
}

function parseResponse(body: unknown, count: number): number[][] {
  const data = (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length !== count) {
    throw new EmbeddingsError(`embeddings response must have ${count} item(s) in "data"`);
  }
  const out: number[][] = new Array(count);
  data.forEach((item: unknown, i) => {
    const idx = (item as { index?: unknown }).index;
    const at = typeof idx === "number" && Number.isInteger(idx) && idx >= 0 && idx < count ? idx : i;
    const v = (item as { embedding?: unknown }).embedding;
    if (
      !Array.isArray(v) ||
      v.length === 0 ||
      v.length > MAX_DIMENSIONS ||
      !v.every((x) => typeof x === "number" && Number.isFinite(x))
    ) {
      throw new EmbeddingsError(
        `embeddings response item ${i} is not a vector of 1 to ${MAX_DIMENSIONS} finite numbers`,
      );
    }
    // A zero vector has no direction: its cosine distance to anything is NaN.
    if (!v.some((x) => x !== 0)) throw new EmbeddingsError(`embeddings response item ${i} is a zero vector`);
    if (out[at] !== undefined) throw new EmbeddingsError(`embeddings response repeats index ${at}`);
    out[at] = v as number[];
  });
  const dims = out[0]!.length;
  if (out.some((v) => v.length !== dims)) throw new EmbeddingsError("embeddings response mixes vector dimensions");
  return out;
}

/** pgvector's text form. */
export function toVectorLiteral(v: number[]): string {
  return `[${v.join(",")}]`;
}
