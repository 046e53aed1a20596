// The hook for the task-approval path (issue 8 item 4 is wired by whoever owns approval): an approved task's
// summary is written in the caller's transaction, once per task, and becomes searchable like any document.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { taskSummaryDocument, type KnowledgeService } from "../../src/knowledge/knowledge.service.js";
import { createTestContext, SYSTEM, type TestContext } from "../harness.js";
import { count, search, traceEvents } from "./helpers.js";

let t: TestContext;
let knowledge: KnowledgeService;
beforeAll(async () => {
  t = await createTestContext();
  knowledge = t.app.services.knowledge;
});
afterAll(async () => {
  await t.close();
});

const task = {
  task_id: "task-auth-7",
  mission_id: "mission-001",
  agent_id: "claude-code-1",
  objective: "Implement refresh token rotation\nwith reuse detection",
  outputs: { pr_url: "https://github.com/acme/api/pull/42", files_changed: 7 },
  review_comments: ["Looks good; rotate on every use.", "  "],
};

describe("task summaries", () => {
  test("the document: title from the objective, type task, objective, outputs and review comments", () => {
    const d = taskSummaryDocument(task);
    expect(d.sourceKey).toBe("task:task-auth-7");
    expect(d.title).toBe("Task task-auth-7: Implement refresh token rotation");
    expect(d.metadata).toEqual({ type: "task", task_id: "task-auth-7", mission_id: "mission-001" });
    expect(d.content).toBe(
      [
        "Mission: mission-001",
        "Agent: claude-code-1",
        "",
        "## Objective",
        "",
        "Implement refresh token rotation\nwith reuse detection",
        "",
        "## Outputs",
        "",
        "- pr_url: https://github.com/acme/api/pull/42",
        "- files_changed: 7",
        "",
        "## Review comments",
        "",
        "- Looks good; rotate on every use.",
      ].join("\n"),
    );
  });

  test("written in the caller's transaction: a rollback leaves nothing behind", async () => {
    await expect(
      t.database.db.transaction(async (tx) => {
        await knowledge.upsertTaskSummary(tx, { ...task, task_id: "task-rolled-back" }, SYSTEM);
        throw new Error("approval failed");
      }),
    ).rejects.toThrow("approval failed");
    expect(
      await count(t.database, "SELECT 1 FROM knowledge_documents WHERE source_key = 'task:task-rolled-back'"),
    ).toBe(0);
  });

  test("once per task: created, then replaced, unchanged writes nothing; searchable by type", async () => {
    const first = await t.database.db.transaction((tx) => knowledge.upsertTaskSummary(tx, task, SYSTEM));
    const created = (await traceEvents(t, "knowledge.document_created")).filter((e) => e.data.document_id === first.id);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      mission_id: "mission-001",
      task_id: "task-auth-7",
      data: { source: "task:task-auth-7" },
    });

    const again = await t.database.db.transaction((tx) =>
      knowledge.upsertTaskSummary(tx, { ...task, review_comments: ["Second review: add metrics."] }, SYSTEM),
    );
    expect(again.id).toBe(first.id);
    expect(again.content).toContain("Second review: add metrics.");
    const updates = () =>
      traceEvents(t, "knowledge.document_updated").then((es) => es.filter((e) => e.data.document_id === first.id));
    expect(await updates()).toHaveLength(1);
    await t.database.db.transaction((tx) =>
      knowledge.upsertTaskSummary(tx, { ...task, review_comments: ["Second review: add metrics."] }, SYSTEM),
    );
    expect(await updates()).toHaveLength(1);
    expect(await count(t.database, "SELECT 1 FROM knowledge_documents WHERE source_key = 'task:task-auth-7'")).toBe(1);

    const hits = await search(t, { query: "refresh token rotation", filter: { metadata: { type: "task" } } });
    expect(hits.map((h) => h.id)).toEqual([first.id]);
    expect(hits[0]!.metadata).toEqual({ type: "task", task_id: "task-auth-7", mission_id: "mission-001" });
  });

  test("text PostgreSQL cannot store is refused, not a 500", async () => {
    await expect(
      t.database.db.transaction((tx) =>
        knowledge.upsertTaskSummary(tx, { ...task, task_id: "t-nul", objective: "a\u0000b" }, SYSTEM),
      ),
    ).rejects.toMatchObject({
      status: 422,
      fields: { title: ["must not contain NUL or unpaired surrogate characters"] },
    });
  });
});
