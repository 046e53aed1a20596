CREATE TABLE "knowledge_chunks" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "knowledge_chunks_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"document_id" integer NOT NULL,
	"ordinal" integer NOT NULL,
	"text" text NOT NULL,
	"tsv" "tsvector" NOT NULL,
	"input_hash" text NOT NULL,
	"embed_pending" boolean DEFAULT true NOT NULL,
	"embed_attempts" integer DEFAULT 0 NOT NULL,
	"embed_next_at" timestamp with time zone DEFAULT now() NOT NULL,
	"embed_error" text,
	"embedding_model" text,
	"embedding_dims" integer,
	"embedded_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "knowledge_documents" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "knowledge_documents_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"title" text NOT NULL,
	"content" text NOT NULL,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"content_hash" text NOT NULL,
	"source_key" text,
	"inserted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "knowledge_documents_source_key_unique" UNIQUE("source_key")
);
--> statement-breakpoint
ALTER TABLE "knowledge_chunks" ADD CONSTRAINT "knowledge_chunks_document_id_knowledge_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."knowledge_documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "knowledge_chunks_document_ordinal_idx" ON "knowledge_chunks" USING btree ("document_id","ordinal");--> statement-breakpoint
CREATE INDEX "knowledge_chunks_tsv_idx" ON "knowledge_chunks" USING gin ("tsv");--> statement-breakpoint
CREATE INDEX "knowledge_chunks_text_trgm_idx" ON "knowledge_chunks" USING gin ("text" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "knowledge_chunks_embed_queue_idx" ON "knowledge_chunks" USING btree ("embed_next_at") WHERE "knowledge_chunks"."embed_pending";--> statement-breakpoint
CREATE INDEX "knowledge_documents_metadata_idx" ON "knowledge_documents" USING gin ("metadata" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "knowledge_documents_title_trgm_idx" ON "knowledge_documents" USING gin ("title" gin_trgm_ops);