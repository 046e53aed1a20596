// Exclusive ownership of an embedded data directory. PGlite has no lock of its own: two processes on one
// directory each keep their own copy of the database in memory and overwrite each other's files, so an
// acknowledged write can vanish. Invariants:
// - At most one process holds a directory: the holder keeps an exclusive OS lock on `<dir>/mission-control.lock`
//   (an open-file-description fcntl lock on Linux, flock on macOS, LockFileEx on Windows) for as long as its
//   database is open. The kernel drops it on any exit, kill -9 included, so there is never a stale lock to
//   clean up, and a reused pid cannot be mistaken for the holder: liveness is the lock itself, not the pid.
// - The file's content (pid, start time) is only for the refusal message; it is written after the lock is
//   taken and never trusted to decide anything. A second opener never truncates it before holding the lock.
// - Node opens files close-on-exec, so an agent process the server started does not inherit the lock.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const { tryLock } = createRequire(import.meta.url)("fs-native-extensions") as {
  /** false when another open file description holds a conflicting lock. */
  tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
};

export const LOCK_FILE = "mission-control.lock";

interface Holder {
  pid: number;
  started_at: string;
}

/** A data directory as the user wrote it: relative to the working directory when it is inside it. */
export function displayDir(dir: string): string {
  const rel = path.relative(process.cwd(), dir);
  if (rel === "") return ".";
  if (rel.startsWith("..") || path.isAbsolute(rel)) return dir;
  return `.${path.sep}${rel}`;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: Holder | null,
  ) {
    const who = holder ? `process ${holder.pid} (started ${holder.started_at})` : "another process";
    super(
      `data directory ${displayDir(dataDir)} is in use by ${who}; use the running server's API (mc tokens …) or stop it first`,
    );
    this.name = "DataDirInUseError";
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Drops the lock (closing the file); idempotent. */
  release(): void;
}

function readHolder(file: string): Holder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Holder>;
    if (Number.isInteger(h.pid) && typeof h.started_at === "string") return { pid: h.pid!, started_at: h.started_at };
  } catch {
    // being written, or not ours
  }
  return null;
}

/**
 * Takes the directory's lock or throws DataDirInUseError naming the holder. Never waits for the lock: a second
 * server or an offline command must stop at once, not queue behind a server that runs for weeks.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, LOCK_FILE);
  // No O_TRUNC: the holder's pid must still be there for the refusal message.
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  let locked = false;
  try {
    locked = tryLock(fd);
  } finally {
    if (!locked) fs.closeSync(fd);
  }
  if (!locked) {
    // The holder writes its pid right after locking; give it a moment if we caught it in between.
    let holder = readHolder(file);
    for (let i = 0; holder === null && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      holder = readHolder(file);
    }
    throw new DataDirInUseError(dataDir, holder);
  }
  const holder: Holder = {
    pid: process.pid,
    started_at: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
  let released = false;
  return {
    file,
    release() {
      if (released) return;
      released = true;
      // The content is left as is: it names the last holder, and only the lock decides.
      fs.closeSync(fd);
    },
  };
}
