// `webhook`: POSTs the task to config.url, signed with HMAC-SHA256 of the body under config.secret
// (X-MC-Signature-256: sha256=<hex>), with the run's agent token. A 2xx means the remote agent accepted the
// task and will report through the API; anything else, or no answer within 10 s, is retried with backoff,
// then the run fails with the last reason.
import { createHmac } from "node:crypto";
import { taskPayload } from "./command.js";
import type { Adapter, RunOutcome } from "./types.js";

const ATTEMPT_TIMEOUT_MS = 10_000;

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export const webhookAdapter: Adapter = {
  kind: "remote",
  start(ctx) {
    const controller = new AbortController();
    const cfg = ctx.agent.config;
    const url = typeof cfg.url === "string" ? cfg.url : null;
    const secret = typeof cfg.secret === "string" ? cfg.secret : "";
    const attempts =
      typeof cfg.delivery_attempts === "number" && cfg.delivery_attempts >= 1 ? Math.floor(cfg.delivery_attempts) : 3;
    const backoffMs =
      typeof cfg.delivery_backoff_ms === "number" && cfg.delivery_backoff_ms >= 0 ? cfg.delivery_backoff_ms : 1_000;

    async function deliver(): Promise<RunOutcome> {
      if (!url || !/^https?:\/\//.test(url)) return { ok: false, reason: "agent config.url must be an http(s) URL" };
      const body = JSON.stringify({ ...taskPayload(ctx), api_url: ctx.apiUrl });
      let reason = "";
      for (let i = 1; i <= attempts; i++) {
        if (controller.signal.aborted) return { ok: false, reason: "stopped" };
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-mc-signature-256": signBody(body, secret),
              "x-mc-delivery": `${ctx.dispatchId}`,
              authorization: `Bearer ${ctx.agentToken}`,
            },
            body,
            signal: AbortSignal.any([controller.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
          });
          await res.body?.cancel().catch(() => {});
          if (res.status >= 200 && res.status < 300) {
            ctx.log("info", `webhook accepted the task (HTTP ${res.status})`);
            return { ok: true };
          }
          reason = `webhook answered HTTP ${res.status}`;
        } catch (err) {
          reason =
            (err as Error).name === "TimeoutError"
              ? `webhook did not answer within ${ATTEMPT_TIMEOUT_MS / 1000} s`
              : `webhook unreachable: ${(err as Error).message}`;
        }
        ctx.log("warn", `delivery attempt ${i} of ${attempts} failed: ${reason}`);
        if (i < attempts) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (i - 1)));
      }
      return { ok: false, reason };
    }

    return { done: deliver(), stop: async () => controller.abort() };
  },
};
