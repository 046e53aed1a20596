-- Documents written before keys existed get `doc-<id>` (never all digits, never a generated key's shape).
ALTER TABLE "knowledge_documents" ADD COLUMN "document_id" text;--> statement-breakpoint
UPDATE "knowledge_documents" SET "document_id" = 'doc-' || "id";--> statement-breakpoint
ALTER TABLE "knowledge_documents" ALTER COLUMN "document_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "knowledge_documents" ADD CONSTRAINT "knowledge_documents_document_id_unique" UNIQUE("document_id");
