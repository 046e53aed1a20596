// Keys that never change. Missions, agents and sprints are never deleted, a PATCH naming a different key is
// refused (422), and their ids come from sequences that never hand one out twice: an id → key pair read once
// holds for as long as the database lives, in every server process sharing it. So a list maps its rows' ids
// to keys here instead of joining those tables for each row: on the plans the planner picks for small tables,
// each joined row starts a scan, which doubled what PostgreSQL spent on a page of tasks, and on PGlite each
// scan start asks the file system for the table's size (bench/README.md, "one statement planned once, one
// scan, one field"). Only the services keep keys unchanged: a database restored under running servers, or a
// key changed by hand, needs the servers restarted.
import { sql } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { Database } from "./client.js";
import { compiledQuery } from "./prepared.js";

/**
 * The keys of one table by id. Past `maxKeys` known keys the map starts over with the ones asked for (and then
 * reads the others again as they are needed), so memory stays bounded however many records there are.
 */
export function immutableKeys(name: string, table: PgTable, idCol: PgColumn, keyCol: PgColumn, maxKeys = 100_000) {
  const read = compiledQuery<{ id: number; key: string }, { ids: string }>(
    `${name}_keys_by_id`,
    () =>
      sql`SELECT ${idCol} AS id, ${keyCol} AS key FROM ${table} WHERE ${idCol} = ANY(${sql.placeholder("ids")}::int[])`,
  );
  const byDatabase = new WeakMap<Database, Map<number, string>>();

  /** The keys of these ids (nulls ignored), reading only the ones this process has not seen yet. */
  return async function keysOf(database: Database, ids: ReadonlyArray<number | null>): Promise<Map<number, string>> {
    let known = byDatabase.get(database);
    if (!known) byDatabase.set(database, (known = new Map()));
    const missing = new Set<number>();
    for (const id of ids) if (id !== null && !known.has(id)) missing.add(id);
    if (missing.size === 0) return known;
    const rows = await read(database, { ids: `{${[...missing].join(",")}}` });
    if (rows.length !== missing.size) throw new Error(`${name}: ${missing.size - rows.length} of the ids have no row`);
    if (known.size + rows.length > maxKeys) {
      const kept = new Map<number, string>();
      for (const id of ids) if (id !== null && known.has(id)) kept.set(id, known.get(id)!);
      byDatabase.set(database, (known = kept));
    }
    for (const r of rows) known.set(Number(r.id), r.key);
    return known;
  };
}
