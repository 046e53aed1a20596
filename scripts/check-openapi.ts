// `npm test`'s OpenAPI checks on one build of the document (building it costs an in-memory database and the
// whole app): Redocly's recommended rules with no error or warning (lint-openapi.ts), and the committed typed
// client generated from the document as it is now (generate-client.ts --check).
import { generateClient } from "./generate-client.js";
import { lintOpenApi } from "./lint-openapi.js";
import { openApiDocument } from "./openapi-document.js";

const doc = await openApiDocument();
const clean = lintOpenApi(doc);
const current = await generateClient(doc, true);
process.exit(clean && current ? 0 : 1);
