// Which channel a request came through, for the trace: a call made through the MCP server marks the entries it
// writes with `"via": "mcp"`. It travels in async context rather than through every service's signature, and
// marks only entries written as the caller (same actor): work the call merely wakes (a dispatch started by the
// runtime in the same tick) keeps its own actor and is not marked.
//
// Task status changes already record in `via` which action moved the task (`report`, `approve`, …; replay and
// knowledge capture read it), so those keep it and carry the channel in `channel`; every marked entry has
// `channel`.
import { AsyncLocalStorage } from "node:async_hooks";

export type TraceChannel = "mcp";

const current = new AsyncLocalStorage<{ channel: TraceChannel; actor: string }>();

/** Runs `fn` with every trace entry it writes as `actor` marked as coming through `channel`. */
export function withTraceChannel<T>(channel: TraceChannel, actor: string, fn: () => Promise<T>): Promise<T> {
  return current.run({ channel, actor }, fn);
}

/** `data` with the channel marks when the entry is written as the current channel's caller. */
export function markChannel(actor: string, data: Record<string, unknown>): Record<string, unknown> {
  const c = current.getStore();
  if (!c || c.actor !== actor) return data;
  return { ...data, via: data.via ?? c.channel, channel: c.channel };
}
