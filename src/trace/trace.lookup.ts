import { eq } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { tasks } from "../db/schema/index.js";

export async function findTaskKey(exec: Executor, id: number): Promise<string | undefined> {
  const rows = await exec.select({ k: tasks.taskId }).from(tasks).where(eq(tasks.id, id)).limit(1);
  return rows[0]?.k;
}
