// The console's files as the server serves them: the built page with its CSP, hashed assets, and a plain
// page (never a 500) when the console is not built; nothing outside the build directory is reachable.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createTestContext, type TestContext } from "../harness.js";

const built = fs.mkdtempSync(path.join(os.tmpdir(), "mc-console-"));
const missing = path.join(built, "does-not-exist");
fs.mkdirSync(path.join(built, "assets"));
fs.writeFileSync(
  path.join(built, "index.html"),
  '<!doctype html><title>t</title><script type="module" src="/assets/app-1.js"></script>',
);
fs.writeFileSync(path.join(built, "assets/app-1.js"), "console.log(1)");
fs.writeFileSync(path.join(built, "secret.txt"), "outside assets");

let withBuild: TestContext;
let without: TestContext;
beforeAll(async () => {
  withBuild = await createTestContext({ MC_CONSOLE_DIR: built });
  without = await createTestContext({ MC_CONSOLE_DIR: missing });
});
afterAll(async () => {
  await withBuild.close();
  await without.close();
  fs.rmSync(built, { recursive: true, force: true });
});

describe("console files", () => {
  test.each(["/", "/index.html"])("GET %s: the page, public, with a CSP without inline script", async (url) => {
    const r = await withBuild.req("GET", url, { token: null });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(r.body).toContain("/assets/app-1.js");
    const csp = String(r.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["cache-control"]).toBe("no-cache");
  });

  test("assets are served with long-lived caching and the same headers", async () => {
    const r = await withBuild.req("GET", "/assets/app-1.js", { token: null });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/javascript/);
    expect(String(r.headers["cache-control"])).toContain("immutable");
    expect(r.headers["content-security-policy"]).toBeDefined();
    expect(r.body).toBe("console.log(1)");
  });

  test.each([
    ["/assets/missing.js"],
    ["/assets/../secret.txt"],
    ["/assets/%2e%2e/secret.txt"],
    ["/secret.txt"],
    ["/assets/..%2fsecret.txt"],
  ])("GET %s → 404 in the error shape, nothing outside assets", async (url) => {
    const r = await withBuild.req("GET", url, { token: null });
    expect(r.statusCode).toBe(404);
    expect(r.body).not.toContain("outside assets");
    expect(JSON.parse(r.body)).toEqual({ errors: { detail: "Not Found" } });
  });

  test("the API keeps its 401 and 404 beside the console", async () => {
    expect((await withBuild.req("GET", "/api/missions", { token: null })).statusCode).toBe(401);
    expect((await withBuild.json("GET", "/api/nope")).status).toBe(404);
  });

  test("not built: `/` answers a short plain page saying how to build it, never a 500", async () => {
    for (const url of ["/", "/index.html"]) {
      const r = await without.req("GET", url, { token: null });
      expect(r.statusCode).toBe(404);
      expect(r.headers["content-type"]).toBe("text/plain; charset=utf-8");
      expect(r.body).toContain("npm run build:web");
      expect(r.headers["content-security-policy"]).toBeDefined();
    }
    expect((await without.req("GET", "/assets/app-1.js", { token: null })).statusCode).toBe(404);
    expect((await without.req("GET", "/healthz", { token: null })).statusCode).toBe(200);
  });

  test("the console routes are not in the OpenAPI document", async () => {
    const doc = (await withBuild.json("GET", "/openapi.json", { token: null })).body;
    expect(
      Object.keys(doc.paths).filter((p) => !p.startsWith("/api") && !["/healthz", "/readyz", "/mcp"].includes(p)),
    ).toEqual([]);
  });
});
