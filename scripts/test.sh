#!/usr/bin/env bash
# The whole suite: type-check, lint, every test on the embedded database, and again on PostgreSQL when
# TEST_DATABASE_URL points at a server (each test file gets a copy of a migrated template database on it).
set -euo pipefail
cd "$(dirname "$0")/.."

# The checks, and the build of what the tests start (dist/ and the console, when their sources changed), two at a
# time: that fills the two cores. Each one's output is kept and shown in order once all are done; the script
# stops there if any failed. The type checks, the linter and the formatter keep caches (node_modules/.cache, by
# content), so a second run checks only what changed; a fresh clone checks everything. (Prettier's cache records
# a file it cannot parse as checked; eslint parses the same files and fails on it.)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
cache=node_modules/.cache/mission-control
mkdir -p "$cache"
names=(
  "typecheck (server, tests, console)"
  "build (dist/ and the console, when their sources changed)"
  "lint"
  "format (prettier, 120 columns; npm run format fixes)"
  "OpenAPI lint and typed client"
)
commands=(
  "node_modules/.bin/tsc -p tsconfig.json --noEmit --incremental --tsBuildInfoFile $cache/server.tsbuildinfo && node_modules/.bin/tsc -p web/tsconfig.json --noEmit --incremental --tsBuildInfoFile $cache/web.tsbuildinfo"
  "flock /tmp/mission-control-build.lock node scripts/build-if-stale.mjs --quiet"
  "node_modules/.bin/eslint --cache --cache-strategy content --cache-location $cache/eslint/ ."
  "node_modules/.bin/prettier --check --cache --cache-strategy content --log-level warn '**/*.{ts,tsx,mts,js,mjs,cjs}'"
  # The OpenAPI document, built once: Redocly's recommended rules with no error or warning, and the committed
  # typed client (src/client) generated from the document as it is now (scripts/check-openapi.ts).
  "node_modules/.bin/tsx scripts/check-openapi.ts"
)
# (A background job must not run the EXIT trap: that would remove the logs of the others.)
run_check() {
  trap - EXIT
  local rc=0
  bash -c "${commands[$1]}" >"$logs/$1.out" 2>&1 || rc=$?
  echo "$rc" >"$logs/$1.rc"
}
for i in "${!commands[@]}"; do
  run_check "$i" &
  # At most two at once.
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
done
wait
failed=0
for i in "${!commands[@]}"; do
  echo "== ${names[$i]}"
  cat "$logs/$i.out"
  if [ "$(cat "$logs/$i.rc")" != 0 ]; then
    echo "== ${names[$i]}: FAILED"
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1

echo "== tests on PGlite"; env -u TEST_DATABASE_URL node_modules/.bin/vitest run "$@"
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "== tests on PostgreSQL"; node_modules/.bin/vitest run "$@"
fi
