// The console's build: static files in web/dist that the server serves at `/` (src/console/console.routes.ts).
// No inline script or style in the output, so the page runs under a CSP without 'unsafe-inline'.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Never turn an asset into a data: URL or inline it: everything is a same-origin file.
    assetsInlineLimit: 0,
    target: "es2022",
    reportCompressedSize: true,
  },
  // `npx vite web` during development: the API of a server started with `npm run dev`.
  server: { proxy: { "/api": "http://127.0.0.1:4000" } },
});
