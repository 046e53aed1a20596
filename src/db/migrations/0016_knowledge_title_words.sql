CREATE TABLE "knowledge_document_title_words" (
	"document_id" integer NOT NULL,
	"word" text NOT NULL,
	CONSTRAINT "knowledge_document_title_words_document_id_word_pk" PRIMARY KEY("document_id","word")
);
--> statement-breakpoint
CREATE TABLE "knowledge_title_words" (
	"word" text PRIMARY KEY NOT NULL
);
--> statement-breakpoint
DROP INDEX "knowledge_documents_title_trgm_idx";--> statement-breakpoint
-- The words of the titles already stored, as knowledge.repo.ts replaceTitleWords splits a title on every write.
INSERT INTO "knowledge_document_title_words" ("document_id", "word")
SELECT DISTINCT d."id", left(w, 200) FROM "knowledge_documents" d, regexp_split_to_table(lower(d."title"), '[^[:alnum:]]+') AS w
 WHERE w <> '';--> statement-breakpoint
INSERT INTO "knowledge_title_words" ("word") SELECT DISTINCT "word" FROM "knowledge_document_title_words";--> statement-breakpoint
ALTER TABLE "knowledge_document_title_words" ADD CONSTRAINT "knowledge_document_title_words_document_id_knowledge_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."knowledge_documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "knowledge_document_title_words_word_idx" ON "knowledge_document_title_words" USING btree ("word","document_id");--> statement-breakpoint
CREATE INDEX "knowledge_title_words_trgm_idx" ON "knowledge_title_words" USING gin ("word" gin_trgm_ops);