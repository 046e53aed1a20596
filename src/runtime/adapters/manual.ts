// `manual`: nothing runs here. The dispatch hands the task over; the agent pulls it with
// GET /api/tasks?agent_id=…&status=pending and reports through the API.
import type { Adapter } from "./types.js";

export const manualAdapter: Adapter = {
  kind: "manual",
  start: () => ({ done: Promise.resolve({ ok: true }), stop: async () => {} }),
};
