// Runs once per test run: migrates one PGlite database and dumps it, so each test file starts from a copy
// instead of running initdb and every migration again (seconds per file on 2 cores).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openDatabase } from "../src/db/client.js";
import { runMigrations } from "../src/db/migrate.js";

export default async function setup() {
  if (process.env.TEST_DATABASE_URL) return;
  const database = await openDatabase({ databaseUrl: null, dataDir: null });
  await runMigrations(database);
  const file = path.join(os.tmpdir(), `mc-pglite-template-${process.pid}.tar.gz`);
  const blob = await database.client!.dumpDataDir("gzip");
  fs.writeFileSync(file, Buffer.from(await blob.arrayBuffer()));
  await database.close();
  process.env.MC_TEST_PGLITE_TEMPLATE = file;
  return () => fs.rmSync(file, { force: true });
}
