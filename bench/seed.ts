// Seeds a freshly migrated database with realistic volumes, set-based: every table is filled by a few
// INSERT … SELECT generate_series statements, with the secondary indexes dropped during the load and built
// once afterwards (as PostgreSQL's own bulk-load advice goes). Derived columns that the application computes
// on write (knowledge chunks' tsvector and input hash, documents' content hash) are computed here in SQL the
// same way. Nothing goes through the API, so seeding writes no trace entries: the trace is not what is being
// measured, and each scenario that writes adds its own.
import { createHash, randomBytes } from "node:crypto";
import type { BenchConfig } from "./config.js";

export type Query = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;

export interface Seeded {
  memberToken: string;
  /** Agents that send heartbeats and activity, with their tokens. */
  heartbeatAgents: Array<{ key: string; token: string }>;
  /** Tasks in progress that the report scenario reports on, each with its agent's token. */
  reportTasks: Array<{ task: string; token: string }>;
  reportMissions: string[];
  listMission: string;
  /** Keys of the list mission's tasks (the get-task scenario reads them). */
  listTaskKeys: string[];
  vocabulary: string[];
}

// Words for titles, documents and queries; drawn with a skew so that some are common and most are rare.
export const VOCABULARY = `
agent api approval architecture audit authentication authorization backend backup batch benchmark billing
branch bucket budget build cache canary capacity certificate change checkout cluster commit compliance
configuration connection container contract cookie coverage cron dashboard database deadlock dependency
deploy deployment design diff dispatch docker documentation domain encryption endpoint environment error
event export failover feature firewall flag frontend gateway git grafana graph handler hash header health
heartbeat helm hook incident index ingress integration interface invoice issue job json kafka kernel key
kubernetes lambda latency lease library limit linter load lock log login memory merge message metric
migration mission mobile module monitoring mutex namespace network node notification oauth objective
onboarding operator optimization outage package pagination parser partition password patch payment
performance permission pipeline plugin pod policy pool postgres postgresql pricing privacy process profile
prometheus protocol proxy queue quota rate react recovery redis refactor region registry release replica
report repository request requirement resource response retry review rollback rollout router runbook
runtime sandbox scaling schedule schema scheduler secret security sensor server service session shard
signal snapshot socket sprint sql staging storage stream subscription supervisor sync task telemetry
template tenant terraform test thread throttle timeout token trace transaction trigger typescript upgrade
upload user validation vault vector version webhook worker workflow worktree
`
  .trim()
  .split(/\s+/);

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const secret = () => `mc_${randomBytes(24).toString("base64url")}`;

/** Secondary indexes of these tables (not those behind a primary key or unique constraint). */
async function secondaryIndexes(query: Query, tables: string[]) {
  return query<{ name: string; def: string }>(
    `SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relname = ANY($1::text[]) AND t.relnamespace = 'public'::regnamespace
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)`,
    [tables],
  );
}

export async function seed(query: Query, cfg: BenchConfig, log: (msg: string) => void): Promise<Seeded> {
  const s = cfg.sizes;
  const step = async (what: string, sql: string, params?: unknown[]) => {
    const t0 = Date.now();
    await query(sql, params);
    log(`  seed: ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  };

  const reportTaskCount = s.reportMissions * s.reportAgentsPerMission * s.reportTasksPerAgent;
  const fillerTasks = Math.max(0, s.tasks - s.missionTasks - reportTaskCount);
  const fillerMissions = Math.max(1, Math.ceil(fillerTasks / Math.max(1, s.missionTasks)));

  const bulkTables = [
    "tasks",
    "task_requirements",
    "task_logs",
    "requirements",
    "key_results",
    "knowledge_documents",
    "knowledge_chunks",
    "knowledge_document_title_words",
  ];
  const indexes = await secondaryIndexes(query, bulkTables);
  for (const ix of indexes) await query(`DROP INDEX "${ix.name}"`);

  await step(
    "missions, sprints",
    `INSERT INTO missions (mission_id, goal, status) VALUES ('bench-list', 'The mission whose tasks are listed', 'planning');
     INSERT INTO missions (mission_id, goal) SELECT 'bench-m-' || i, 'Filler mission ' || i FROM generate_series(1, ${fillerMissions}) i;
     INSERT INTO missions (mission_id, goal) SELECT 'bench-r-' || i, 'Reported mission ' || i FROM generate_series(1, ${s.reportMissions}) i;
     INSERT INTO sprints (sprint_id, name, status) SELECT 'bench-s-' || i, 'Sprint ' || i, 'active' FROM generate_series(1, 20) i;`,
  );
  await step(
    "agents",
    `INSERT INTO agents (agent_id, name, capabilities, status, last_seen_at)
       SELECT 'bench-hb-' || i, 'Heartbeat agent ' || i, '["code"]'::jsonb, 'idle', now() FROM generate_series(1, ${s.heartbeatAgents}) i;
     INSERT INTO agents (agent_id, name, capabilities, status, last_seen_at)
       SELECT 'bench-ra-' || m || '-' || a, 'Reporting agent ' || m || '/' || a, '["code"]'::jsonb, 'working', now()
         FROM generate_series(1, ${s.reportMissions}) m, generate_series(1, ${s.reportAgentsPerMission}) a;
     INSERT INTO mission_agents (mission_id, agent_id)
       SELECT (SELECT id FROM missions WHERE mission_id = 'bench-r-' || m), (SELECT id FROM agents WHERE agent_id = 'bench-ra-' || m || '-' || a)
         FROM generate_series(1, ${s.reportMissions}) m, generate_series(1, ${s.reportAgentsPerMission}) a;`,
  );
  await step(
    `${s.objectives} objectives, ${s.objectives * s.keyResultsPerObjective} key results, ${s.requirements} requirements`,
    `INSERT INTO objectives (objective_id, title, priority, start_date, end_date)
       SELECT 'bench-o-' || i, 'Objective ' || i, i % 5, DATE '2026-01-01', DATE '2026-12-31' FROM generate_series(1, ${s.objectives}) i;
     INSERT INTO key_results (kr_id, objective_id, title, target, current)
       SELECT 'bench-kr-' || i, o.id, 'Key result ' || i, 100, i % 100
         FROM generate_series(1, ${s.objectives * s.keyResultsPerObjective}) i
         JOIN objectives o ON o.objective_id = 'bench-o-' || ((i - 1) % ${s.objectives} + 1);
     INSERT INTO requirements (requirement_id, title, description, priority, horizon, status, objective_id, kr_id)
       SELECT 'bench-req-' || i, 'Requirement ' || i, 'What requirement ' || i || ' asks for',
              (ARRAY['p0','p1','p2','p3',NULL])[i % 5 + 1], 'h' || (i % 3 + 1), 'accepted',
              CASE WHEN i % 10 = 0 THEN NULL ELSE o.id END,
              CASE WHEN i % 10 = 0 OR i % 2 = 0 THEN NULL ELSE kr.id END
         FROM generate_series(1, ${s.requirements}) i
         JOIN objectives o ON o.objective_id = 'bench-o-' || ((i - 1) % ${s.objectives} + 1)
         LEFT JOIN key_results kr ON kr.kr_id = 'bench-kr-' || ((i - 1) % ${s.objectives} + 1);`,
  );
  const statuses = `(ARRAY['pending','in_progress','completed','completed','blocked','pending_review'])`;
  await step(
    `${s.tasks} tasks (${s.missionTasks} in the listed mission)`,
    `INSERT INTO tasks (task_id, mission_id, objective, status, agent_id, sprint_id, priority, outputs)
       SELECT 'bench-l-' || i, (SELECT id FROM missions WHERE mission_id = 'bench-list'), 'Listed task ' || i,
              ${statuses}[i % 6 + 1],
              (SELECT id FROM agents WHERE agent_id = 'bench-hb-' || (i % ${s.heartbeatAgents} + 1)),
              CASE WHEN i % 3 = 0 THEN NULL ELSE (SELECT id FROM sprints WHERE sprint_id = 'bench-s-' || (i % 20 + 1)) END,
              i % 4, jsonb_build_object('summary', 'Output of task ' || i)
         FROM generate_series(1, ${s.missionTasks}) i;
     INSERT INTO tasks (task_id, mission_id, objective, status, sprint_id, priority)
       SELECT 'bench-f-' || i, m.id, 'Filler task ' || i, ${statuses}[i % 6 + 1],
              CASE WHEN i % 3 = 0 THEN NULL ELSE sp.id END, i % 4
         FROM generate_series(1, ${fillerTasks}) i
         JOIN missions m ON m.mission_id = 'bench-m-' || ((i - 1) / ${Math.max(1, s.missionTasks)} + 1)
         JOIN sprints sp ON sp.sprint_id = 'bench-s-' || (i % 20 + 1);
     INSERT INTO tasks (task_id, mission_id, objective, status, agent_id)
       SELECT 'bench-rt-' || m || '-' || a || '-' || k, (SELECT id FROM missions WHERE mission_id = 'bench-r-' || m),
              'Reported task ' || m || '/' || a || '/' || k, 'in_progress',
              (SELECT id FROM agents WHERE agent_id = 'bench-ra-' || m || '-' || a)
         FROM generate_series(1, ${s.reportMissions}) m, generate_series(1, ${s.reportAgentsPerMission}) a,
              generate_series(1, ${s.reportTasksPerAgent}) k;`,
  );
  await step(
    "task ↔ requirement links, task logs",
    `INSERT INTO task_requirements (task_id, requirement_id)
       SELECT t.id, (t.id - 1) % ${s.requirements} + (SELECT min(id) FROM requirements) FROM tasks t WHERE t.id % 10 <> 0;
     INSERT INTO task_requirements (task_id, requirement_id)
       SELECT t.id, (t.id * 7) % ${s.requirements} + (SELECT min(id) FROM requirements) FROM tasks t
        WHERE t.id % 5 = 1 AND (t.id * 7) % ${s.requirements} <> (t.id - 1) % ${s.requirements};
     INSERT INTO task_logs (task_id, message, level, timestamp)
       SELECT t.id, 'step ' || k || ' of ' || t.task_id, CASE WHEN k = 3 THEN 'warn' ELSE 'info' END, now() - (4 - k) * interval '1 minute'
         FROM tasks t, generate_series(1, 3) k WHERE t.task_id LIKE 'bench-l-%' OR t.task_id LIKE 'bench-rt-%';`,
  );
  // Documents of ~100 words: one chunk each (the chunker cuts at 1,200 characters), as the service would
  // store them without embeddings configured.
  const nv = VOCABULARY.length;
  const word = (seedExpr: string, skew: number) =>
    `($1::text[])[1 + floor(${nv} * power(((hashint4(${seedExpr}) & 2147483647) / 2147483648.0), ${skew}))::int]`;
  await step(
    `${s.documents} knowledge documents and their chunks`,
    `INSERT INTO knowledge_documents (document_id, title, content, metadata, content_hash)
       SELECT 'bench-doc-' || i, x.title, x.content,
              jsonb_build_object('source', 'bench', 'team', 'team-' || (i % 20), 'kind', (ARRAY['guide','adr','runbook','note'])[i % 4 + 1]),
              encode(sha256(convert_to(x.content, 'UTF8')), 'hex')
         FROM generate_series(1, ${s.documents}) i
         CROSS JOIN LATERAL (
           SELECT (SELECT initcap(string_agg(${word("i * 17 + k", 1.5)}, ' ')) FROM generate_series(1, 5) k) AS title,
                  (SELECT string_agg(${word("i * 1031 + k", 2)}, ' ') || '.' FROM generate_series(1, 100) k) AS content
         ) x`,
    [VOCABULARY],
  );
  await step(
    "knowledge chunks (tsvector, input hash)",
    `INSERT INTO knowledge_chunks (document_id, ordinal, text, tsv, input_hash)
       SELECT d.id, 0, d.content,
              setweight(to_tsvector('english', d.title), 'A') || setweight(to_tsvector('english', d.content), 'B'),
              encode(sha256(convert_to(d.title || E'\\n\\n' || d.content, 'UTF8')), 'hex')
         FROM knowledge_documents d`,
  );
  // The typo-correction vocabulary the service adds on every write (knowledge.repo.ts terms()): words of 3–40
  // letters or digits, with at least one letter, lower-cased.
  await step(
    "knowledge terms",
    `INSERT INTO knowledge_terms (term)
       SELECT DISTINCT w FROM knowledge_documents d,
              regexp_split_to_table(lower(d.title || ' ' || d.content), '[^[:alnum:]]+') w
        WHERE length(w) BETWEEN 3 AND 40 AND w ~ '[[:alpha:]]'
       ON CONFLICT DO NOTHING`,
  );

  // The title words the service keeps on every write (knowledge.repo.ts replaceTitleWords).
  await step(
    "knowledge title words",
    `INSERT INTO knowledge_document_title_words (document_id, word)
       SELECT DISTINCT d.id, left(w, 200) FROM knowledge_documents d, regexp_split_to_table(lower(d.title), '[^[:alnum:]]+') w
        WHERE w <> ''`,
  );
  await step(
    "knowledge title vocabulary",
    `INSERT INTO knowledge_title_words (word) SELECT DISTINCT word FROM knowledge_document_title_words`,
  );

  const t0 = Date.now();
  for (const ix of indexes) await query(ix.def);
  log(`  seed: ${indexes.length} secondary indexes rebuilt (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  await step("analyze", "ANALYZE");

  // Tokens: stored as hashes, exactly as the service stores them.
  const memberToken = secret();
  const heartbeatAgents = Array.from({ length: s.heartbeatAgents }, (_, i) => ({
    key: `bench-hb-${i + 1}`,
    token: secret(),
  }));
  const reportAgents: Array<{ key: string; token: string }> = [];
  for (let m = 1; m <= s.reportMissions; m++) {
    for (let a = 1; a <= s.reportAgentsPerMission; a++)
      reportAgents.push({ key: `bench-ra-${m}-${a}`, token: secret() });
  }
  const agentTokens = [...heartbeatAgents, ...reportAgents];
  await query(`INSERT INTO api_tokens (name, role, token_hash) VALUES ('bench-member', 'member', $1)`, [
    sha256(memberToken),
  ]);
  await query(
    `INSERT INTO api_tokens (name, role, agent_id, token_hash)
       SELECT 'bench-' || x.k, 'agent', a.id, x.h FROM unnest($1::text[], $2::text[]) AS x(k, h) JOIN agents a ON a.agent_id = x.k`,
    [agentTokens.map((a) => a.key), agentTokens.map((a) => sha256(a.token))],
  );

  const reportTasks: Array<{ task: string; token: string }> = [];
  // Interleaved so that consecutive reports go to different missions and agents.
  for (let k = 1; k <= s.reportTasksPerAgent; k++) {
    for (let a = 1; a <= s.reportAgentsPerMission; a++) {
      for (let m = 1; m <= s.reportMissions; m++) {
        const agent = reportAgents[(m - 1) * s.reportAgentsPerMission + (a - 1)]!;
        reportTasks.push({ task: `bench-rt-${m}-${a}-${k}`, token: agent.token });
      }
    }
  }
  return {
    memberToken,
    heartbeatAgents,
    reportTasks,
    reportMissions: Array.from({ length: s.reportMissions }, (_, i) => `bench-r-${i + 1}`),
    listMission: "bench-list",
    listTaskKeys: Array.from({ length: s.missionTasks }, (_, i) => `bench-l-${i + 1}`),
    vocabulary: VOCABULARY,
  };
}
