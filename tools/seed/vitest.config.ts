import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  test: {
    include: ["src/**/*.spec.ts"],
    globalSetup: [require.resolve("@driver-analytics/db/testing/global-setup")],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
