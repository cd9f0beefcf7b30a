// Builds the single-page app into dist/, which the lantern-ui crate embeds in the binary.
// Pages, editors and charts are loaded on demand so the first page stays light.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:9700",
      "/loki": { target: "http://127.0.0.1:9700", ws: true },
      "/-": "http://127.0.0.1:9700",
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
