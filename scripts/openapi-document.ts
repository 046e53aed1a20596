// The server's OpenAPI document exactly as GET /openapi.json serves it, built without listening or a data
// directory (an in-memory embedded database): for the client generator and the lint.
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { openDatabase } from "../src/db/client.js";

export async function openApiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({ ...process.env, DATABASE_URL: "", MC_ADMIN_TOKEN: "", LOG_LEVEL: "silent" });
  const database = await openDatabase({ databaseUrl: null, dataDir: null });
  try {
    const app = await buildApp({ config, database });
    await app.ready();
    const doc = app.swagger() as Record<string, unknown>;
    await app.close();
    return doc;
  } finally {
    await database.close();
  }
}
