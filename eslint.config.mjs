// Lint with type information over every package: the rules that catch what
// tsc does not (promises nobody awaits, promises where callbacks belong,
// switches that miss a case), plus typescript-eslint's non-type-checked
// recommendations. Generated code and build output are not ours to lint.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/dist/**", "**/node_modules/**", "**/src/gen/**", "**/.turbo/**", "**/scratch/**", "**/*.config.*", "**/vite-env.d.ts"],
  },
  js.configs.recommended,
  // Control characters in patterns are deliberate here (ANSI colours, protocol bytes).
  { rules: { "no-control-regex": "off" } },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Tests and adapters cast at framework boundaries on purpose.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: { globals: globals.node },
  },
);
