#!/usr/bin/env bash
# The whole suite: type-check, lint, every test on the embedded database, and again on PostgreSQL when
# TEST_DATABASE_URL points at a server (a database on it is created and dropped per test file).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== lint"; npx eslint .
echo "== format (prettier, 120 columns; npm run format fixes)"; npx prettier --check --log-level warn "**/*.{ts,tsx,mts,js,mjs,cjs}"
# The OpenAPI document: Redocly's recommended rules with no error or warning, and the committed typed client
# (src/client) generated from the document as it is now.
echo "== OpenAPI lint"; npx tsx scripts/lint-openapi.ts
echo "== typed client is current"; npx tsx scripts/generate-client.ts --check
echo "== tests on PGlite"; env -u TEST_DATABASE_URL npx vitest run "$@"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "== tests on PostgreSQL"; npx vitest run "$@"
fi
