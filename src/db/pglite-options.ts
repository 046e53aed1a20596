// PGlite's start-up options, the same for the request thread, the worker thread and the one-off initdb child.
import { PGlite } from "@electric-sql/pglite";

/** Default shared_buffers (MiB) of the embedded database; PostgreSQL's own 128 MB is most of PGlite's memory. */
export const DEFAULT_SHARED_BUFFERS_MB = 32;

export function pgliteStartParams(sharedBuffersMb: number = DEFAULT_SHARED_BUFFERS_MB): string[] {
  // PostgreSQL touches all of shared_buffers when it starts, so its size is resident memory from the start.
  // wal_buffers follows it (1/32 of it by default).
  return [...PGlite.defaultStartParams, "-c", `shared_buffers=${sharedBuffersMb}MB`];
}
