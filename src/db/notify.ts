// Cross-process signals through PostgreSQL LISTEN/NOTIFY (PGlite implements the same within its one
// process). A NOTIFY sent inside a transaction is delivered only if and when it commits, so a listener never
// hears of a change it cannot yet read. Invariants: one listening connection per notifier, channels are
// re-LISTENed after a reconnect, and a handler that throws never takes the listener down.
import pg from "pg";
import { sql } from "drizzle-orm";
import type { Database, Executor } from "./client.js";

export type Handler = (payload: string) => void;

export interface Notifier {
  listen(channel: string, handler: Handler): Promise<() => void>;
  close(): Promise<void>;
}

/** Queue a notification on the caller's transaction (delivered at commit). */
export async function notify(exec: Executor, channel: string, payload: string): Promise<void> {
  await exec.execute(sql`SELECT pg_notify(${channel}, ${payload})`);
}

export function createNotifier(database: Database): Notifier {
  const connectionString = database.url ?? undefined;
  const handlers = new Map<string, Set<Handler>>();
  const dispatch = (channel: string, payload: string) => {
    for (const h of handlers.get(channel) ?? []) {
      try {
        h(payload);
      } catch {
        // a broken handler must not break the others
      }
    }
  };

  if (database.kind === "pglite") {
    const client = database.client!;
    const unsubs = new Map<string, () => Promise<void>>();
    return {
      async listen(channel, handler) {
        let set = handlers.get(channel);
        if (!set) {
          set = new Set();
          handlers.set(channel, set);
          unsubs.set(channel, await client.listen(channel, (p) => dispatch(channel, p)));
        }
        set.add(handler);
        return () => set.delete(handler);
      },
      async close() {
        for (const u of unsubs.values()) await u().catch(() => {});
        unsubs.clear();
        handlers.clear();
      },
    };
  }

  let client: pg.Client | null = null;
  let connecting: Promise<pg.Client> | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;

  async function connect(): Promise<pg.Client> {
    if (client) return client;
    if (connecting) return connecting;
    connecting = (async () => {
      const c = new pg.Client({ connectionString });
      c.on("notification", (m) => dispatch(m.channel, m.payload ?? ""));
      c.on("error", () => {
        // Reconnect and re-LISTEN; anything sent meanwhile is picked up by the listeners' own polling.
        if (client === c) client = null;
        c.end().catch(() => {});
        if (!closed && !retry) {
          retry = setTimeout(() => {
            retry = null;
            connect().catch(() => {});
          }, 1_000);
          retry.unref();
        }
      });
      await c.connect();
      for (const ch of handlers.keys()) await c.query(`LISTEN "${ch}"`);
      client = c;
      return c;
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  }

  return {
    async listen(channel, handler) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
      let set = handlers.get(channel);
      const isNew = !set;
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
      }
      set.add(handler);
      const c = await connect();
      if (isNew) await c.query(`LISTEN "${channel}"`);
      return () => set!.delete(handler);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      handlers.clear();
      const c = client;
      client = null;
      if (c) await c.end().catch(() => {});
    },
  };
}
