// Merging log lines that arrive from several places (the task's latest lines, the paged full list, live
// task.log events, a re-read after a reconnect) into one list without duplicates, oldest first.
export interface Line {
  message: string;
  timestamp: string;
  level?: string;
}

const TAIL = 500;
const key = (l: Line) => `${l.timestamp}\u0000${l.level ?? ""}\u0000${l.message}`;

/** `existing` followed by the lines of `incoming` it does not already end with. Returns `existing` when nothing is new. */
export function mergeLogs<T extends Line>(existing: T[], incoming: T[]): T[] {
  if (incoming.length === 0) return existing;
  const tail = existing.slice(-TAIL);
  const seen = new Set(tail.map(key));
  // Lines older than the tail's first are taken as seen: the tail is the only part a newcomer can overlap.
  const floor = existing.length > TAIL ? Date.parse(tail[0]!.timestamp) : -Infinity;
  const add: T[] = [];
  for (const l of incoming) {
    const k = key(l);
    if (seen.has(k) || Date.parse(l.timestamp) < floor) continue;
    seen.add(k);
    add.push(l);
  }
  return add.length === 0 ? existing : existing.concat(add);
}
