import js from "@eslint/js";
import tseslint from "typescript-eslint";

const REPO_OF_ANOTHER_MODULE = {
  regex: "^(\\.\\./)+[^./][^/]*/[^/]+\\.repo\\.js$",
  message: "Another module's repo: use its x.lookup.ts / service (one owner per table).",
};

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "web/dist/**",
      "node_modules/**",
      "data/**",
      "coverage/**",
      "bench/results/**",
      "src/client/schema.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  // One owner per table: a module's repo is imported only from its own folder; other modules read through the
  // owner's service-level files (x.lookup.ts, x.runs.ts, its service). Services, repos and state machines never
  // depend on the HTTP layer (src/http keeps only Fastify plugins).
  {
    files: ["src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [REPO_OF_ANOTHER_MODULE] }],
    },
  },
  {
    files: ["src/**/*.service.ts", "src/**/*.repo.ts", "src/**/*.state.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            REPO_OF_ANOTHER_MODULE,
            { regex: "^(\\.\\./)+http/", message: "Services, repos and state files do not depend on src/http." },
          ],
        },
      ],
    },
  },
  {
    files: ["test/fixtures/**/*.{js,mjs,cjs}"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        setInterval: "readonly",
        fetch: "readonly",
        URL: "readonly",
      },
    },
  },
);
