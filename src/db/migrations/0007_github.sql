CREATE TABLE "github_issues" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "github_issues_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"repo" text NOT NULL,
	"number" integer NOT NULL,
	"title" text NOT NULL,
	"state" text NOT NULL,
	"labels" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"assignees" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"html_url" text NOT NULL,
	"body" text,
	"github_updated_at" timestamp with time zone NOT NULL,
	"task_id" integer,
	"linked_at" timestamp with time zone,
	"comment_status" text,
	"comment_attempts" integer DEFAULT 0 NOT NULL,
	"comment_claimed_at" timestamp with time zone,
	"inserted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_repo_state" (
	"repo" text PRIMARY KEY NOT NULL,
	"since" timestamp with time zone,
	"etag" text,
	"last_synced_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_sync_runs" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "github_sync_runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"status" text DEFAULT 'queued' NOT NULL,
	"repos" jsonb NOT NULL,
	"results" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"trigger" text NOT NULL,
	"requested_by" text NOT NULL,
	"issues_synced" integer DEFAULT 0 NOT NULL,
	"error" text,
	"resume_at" timestamp with time zone,
	"owner" text,
	"heartbeat_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"inserted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "github_webhook_deliveries" (
	"delivery_id" text PRIMARY KEY NOT NULL,
	"event" text NOT NULL,
	"action" text,
	"result" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "github_issues" ADD CONSTRAINT "github_issues_task_id_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."tasks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "github_issues_repo_number_idx" ON "github_issues" USING btree ("repo","number");--> statement-breakpoint
CREATE UNIQUE INDEX "github_issues_task_idx" ON "github_issues" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "github_issues_state_idx" ON "github_issues" USING btree ("state","id");--> statement-breakpoint
CREATE UNIQUE INDEX "github_sync_runs_one_active_idx" ON "github_sync_runs" USING btree ((true)) WHERE status IN ('queued', 'running');--> statement-breakpoint
CREATE INDEX "github_webhook_deliveries_received_idx" ON "github_webhook_deliveries" USING btree ("received_at");