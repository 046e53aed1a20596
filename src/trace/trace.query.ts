// re-export until importers switch to trace.service.js (the reads moved there; app.ts still imports this file)
export { createTraceService, type TraceService } from "./trace.service.js";
