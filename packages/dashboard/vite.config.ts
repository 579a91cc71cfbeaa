import { defineConfig } from "vite";

// Static build served by the DriverAnalytics server (or any static host);
// `vite` alone serves it on :5173 against VITE_API_BASE_URL (default: the
// demo server on :8080, which allows this origin in demo mode).
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
  },
  server: { port: 5173, strictPort: true },
});
