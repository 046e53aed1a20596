// The console: the single-page app built from web/ (npm run build:web) served by this same process at `/`,
// so the API and the console share one origin and one port. Invariants:
// - The HTML carries a Content-Security-Policy without inline script: the build emits only external,
//   same-origin scripts and styles, and everything agents or people wrote is rendered as text.
// - A missing build is not an error of the server: `/` answers a short plain page saying how to build it,
//   and nothing is read until a request comes, so building while the server runs just works.
// - Only `/` (and `/index.html`) and the hashed files under `/assets/` are served; every other path keeps
//   the API's 404 in the contract's error shape.
import fs from "node:fs/promises";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyPluginAsync } from "fastify";

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const NOT_BUILT =
  "The Mission Control console has not been built.\n\n" +
  "Run `npm run build:web` (or `npm start`, which builds it) and reload this page.\n" +
  "The API is served under /api and documented at /docs.\n";

export const consoleRoutes: FastifyPluginAsync<{ dir: string }> = async (app, { dir }) => {
  const index = path.join(dir, "index.html");
  const serveIndex = async (_req: unknown, reply: import("fastify").FastifyReply) => {
    let html: string;
    try {
      html = await fs.readFile(index, "utf8");
    } catch {
      reply.code(404).headers(SECURITY_HEADERS).header("cache-control", "no-store").type("text/plain; charset=utf-8");
      return NOT_BUILT;
    }
    // no-cache: a new build's index (naming new hashed assets) is picked up on the next load.
    reply.headers(SECURITY_HEADERS).header("cache-control", "no-cache").type("text/html; charset=utf-8");
    return html;
  };
  const opts = { config: { access: "public" as const }, schema: { hide: true } };
  app.get("/", opts, serveIndex);
  app.get("/index.html", opts, serveIndex);

  await app.register(fastifyStatic, {
    root: path.join(dir, "assets"),
    prefix: "/assets/",
    decorateReply: false,
    index: false,
    // File names carry their content hash: a name never changes content.
    immutable: true,
    maxAge: "365d",
    setHeaders: (reply) => void reply.headers(SECURITY_HEADERS),
    schemaHide: true,
    // A missing build is reported once below, in words a person can act on.
    suppressWarning: true,
  });
  try {
    await fs.access(index);
  } catch {
    app.log.warn(`the console is not built (no ${index}): run npm run build:web`);
  }
};
