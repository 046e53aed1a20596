ALTER TABLE "api_tokens" ADD COLUMN "task_id" integer;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD COLUMN "dispatch_id" bigint;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "status_cause" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "status_reason" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "status_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "last_event" text;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "last_event_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "dispatches" ADD COLUMN "last_output_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "api_tokens_dispatch_idx" ON "api_tokens" USING btree ("dispatch_id") WHERE dispatch_id IS NOT NULL AND revoked_at IS NULL;--> statement-breakpoint
CREATE INDEX "agents_live_seen_idx" ON "agents" USING btree ("last_seen_at") WHERE status IN ('idle', 'working', 'blocked', 'waiting_for_input');--> statement-breakpoint
CREATE INDEX "dispatches_running_agent_idx" ON "dispatches" USING btree ("agent_id","id") WHERE status = 'running';