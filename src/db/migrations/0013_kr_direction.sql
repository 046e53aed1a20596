ALTER TABLE "key_results" ADD COLUMN "direction" text DEFAULT 'increase' NOT NULL;--> statement-breakpoint
ALTER TABLE "key_results" ADD COLUMN "start_value" double precision;