// Creates a new embedded data directory in a child process of its own, then exits: PGlite's initdb and the
// migrations (every table and index built at once). initdb runs a second WebAssembly instance and both grow
// the database's heap; in the server's process that memory would stay resident for its whole life (a
// WebAssembly memory never shrinks, and the allocator keeps what a terminated worker thread used), in a
// child it is given back when the child exits. The parent holds the directory's lock meanwhile.
// Usage: node pglite-init.js <pglite data dir> <shared_buffers MiB>
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { vector } from "@electric-sql/pglite/vector";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { migrationsFolder } from "./migrate.js";
import { pgliteStartParams } from "./pglite-options.js";

const [dataDir, sharedBuffers] = process.argv.slice(2);
try {
  if (!dataDir) throw new Error("usage: pglite-init <data dir> <shared_buffers MiB>");
  const db = await PGlite.create({
    dataDir,
    startParams: pgliteStartParams(Number(sharedBuffers) || undefined),
    extensions: { pg_trgm, vector },
  });
  try {
    await migrate(drizzle(db), { migrationsFolder });
  } finally {
    await db.close();
  }
} catch (err) {
  process.stderr.write(
    `could not create the embedded database in ${dataDir}: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exitCode = 1;
}
