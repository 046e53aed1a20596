CREATE TABLE "trace_chains" (
	"chain" text PRIMARY KEY NOT NULL,
	"head_hash" text NOT NULL,
	"prev_hash" text NOT NULL,
	"length" bigint NOT NULL
);
--> statement-breakpoint
-- Entries written before the chain existed get empty hashes (verification reports them); new entries always
-- carry both, so the defaults are dropped again.
ALTER TABLE "trace_entries" ADD COLUMN "prev_hash" text NOT NULL DEFAULT '';--> statement-breakpoint
ALTER TABLE "trace_entries" ADD COLUMN "hash" text NOT NULL DEFAULT '';--> statement-breakpoint
ALTER TABLE "trace_entries" ALTER COLUMN "prev_hash" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "trace_entries" ALTER COLUMN "hash" DROP DEFAULT;