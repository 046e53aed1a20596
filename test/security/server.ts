// The app on a real port, on a fresh database of the backend under test, with the production logger
// (src/logger.ts, redaction included) writing every line, at level trace, into memory.
import { Writable } from "node:stream";
import { buildApp, type App } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createTokensService } from "../../src/tokens/tokens.service.js";
import { createTestDb, SYSTEM, type TestDb } from "../harness.js";
import { send, type Reply, type SendOptions } from "./openapi.js";

export interface LiveApp {
  app: App;
  base: string;
  db: TestDb;
  admin: string;
  member: string;
  /** Every log line written so far. */
  logs: string[];
  /** Every secret handed out so far (tests add their own). */
  secrets: Set<string>;
  tokens: ReturnType<typeof createTokensService>;
  /** An agent token for `agentKey` (the agent must exist); its secret is added to `secrets`. */
  agentToken(agentKey: string): Promise<string>;
  call(method: string, url: string, opts?: SendOptions): Promise<Reply>;
  close(): Promise<void>;
}

export async function startLiveApp(env: Record<string, string> = {}): Promise<LiveApp> {
  const db = await createTestDb();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  // The overload guard off, as in the harness: on a busy machine it answered 503 to the fixtures' set-up.
  const config = loadConfig({ MC_DATA_DIR: "/tmp/mc-test-unused", MC_MAX_EVENT_LOOP_DELAY_MS: "0", ...env });
  const logger = createLogger("trace", sink);
  const app = await buildApp({ config, database: db.database, logger, eventStream: { keepAliveMs: 60_000 } });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  const tokens = createTokensService({ database: db.database, adminToken: null });
  const admin = (await tokens.create({ role: "admin", name: "admin" }, SYSTEM)).token;
  const member = (await tokens.create({ role: "member", name: "member" }, SYSTEM)).token;
  const secrets = new Set([admin, member]);
  return {
    app,
    base,
    db,
    admin,
    member,
    logs,
    secrets,
    tokens,
    async agentToken(agentKey: string) {
      const s = (await tokens.create({ role: "agent", agent_id: agentKey, name: `agent-${agentKey}` }, SYSTEM)).token;
      secrets.add(s);
      return s;
    },
    call: (method, url, opts = {}) => send(base, method, url, { token: admin, ...opts }),
    async close() {
      await app.close();
      await db.drop();
    },
  };
}
