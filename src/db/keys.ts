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
import type { Ref } from "../core/ids.js";
import type { Database } from "./client.js";
import { compiledQuery } from "./prepared.js";

/** A table's id → key map, and the way to find one record by either (see `find`). */
export interface ImmutableKeys {
  /** The keys of these ids (nulls ignored), reading only the ones this process has not seen yet. */
  (database: Database, ids: ReadonlyArray<number | null>): Promise<Map<number, string>>;
  /** The record named by id or key, or undefined when there is none; read once, then remembered both ways. */
  find(database: Database, ref: Ref): Promise<{ id: number; key: string } | undefined>;
}

/**
 * The keys of one table by id. Past `maxKeys` known keys the map starts over with the ones asked for (and then
 * reads the others again as they are needed), so memory stays bounded however many records there are.
 */
export function immutableKeys(
  name: string,
  table: PgTable,
  idCol: PgColumn,
  keyCol: PgColumn,
  maxKeys = 100_000,
): ImmutableKeys {
  type Row = { id: number; key: string };
  const read = compiledQuery<Row, { ids: string }>(
    `${name}_keys_by_id`,
    () =>
      sql`SELECT ${idCol} AS id, ${keyCol} AS key FROM ${table} WHERE ${idCol} = ANY(${sql.placeholder("ids")}::int[])`,
  );
  const readKey = compiledQuery<Row, { key: string }>(
    `${name}_id_by_key`,
    () => sql`SELECT ${idCol} AS id, ${keyCol} AS key FROM ${table} WHERE ${keyCol} = ${sql.placeholder("key")}`,
  );
  const byDatabase = new WeakMap<Database, { byId: Map<number, string>; byKey: Map<string, number> }>();
  const known = (database: Database) => {
    let k = byDatabase.get(database);
    if (!k) byDatabase.set(database, (k = { byId: new Map(), byKey: new Map() }));
    return k;
  };
  /**
   * Remembers `rows` in `k`, the maps read before the caller's query (another call may have started the current
   * ones over meanwhile; `k` still holds every pair the caller found known), first starting over (keeping the
   * pairs of `keep`) when they would pass the bound.
   */
  const remember = (
    database: Database,
    k: { byId: Map<number, string>; byKey: Map<string, number> },
    rows: Row[],
    keep: ReadonlyArray<number | null>,
  ) => {
    if (k.byId.size + rows.length > maxKeys) {
      const kept = { byId: new Map<number, string>(), byKey: new Map<string, number>() };
      for (const id of keep) {
        const key = id === null ? undefined : k.byId.get(id);
        if (id === null || key === undefined) continue;
        kept.byId.set(id, key);
        kept.byKey.set(key, id);
      }
      byDatabase.set(database, (k = kept));
    }
    for (const r of rows) {
      const id = Number(r.id);
      k.byId.set(id, r.key);
      k.byKey.set(r.key, id);
    }
    return k;
  };

  const keysOf = async (database: Database, ids: ReadonlyArray<number | null>): Promise<Map<number, string>> => {
    const k = known(database);
    const missing = new Set<number>();
    for (const id of ids) if (id !== null && !k.byId.has(id)) missing.add(id);
    if (missing.size === 0) return k.byId;
    const rows = await read(database, { ids: `{${[...missing].join(",")}}` });
    if (rows.length !== missing.size) throw new Error(`${name}: ${missing.size - rows.length} of the ids have no row`);
    return remember(database, k, rows, ids).byId;
  };

  const find = async (database: Database, ref: Ref) => {
    const k = known(database);
    if (typeof ref === "number") {
      const key = k.byId.get(ref);
      if (key !== undefined) return { id: ref, key };
    } else {
      const id = k.byKey.get(ref);
      if (id !== undefined) return { id, key: ref };
    }
    const [row] =
      typeof ref === "number" ? await read(database, { ids: `{${ref}}` }) : await readKey(database, { key: ref });
    if (!row) return undefined;
    remember(database, k, [row], []);
    return { id: Number(row.id), key: row.key };
  };

  return Object.assign(keysOf, { find });
}
