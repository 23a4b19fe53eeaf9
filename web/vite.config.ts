import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The console is a static bundle served by the Cordon app at `/` (see src/http/console.ts).
// `npm run build:web` writes web/dist; `npx vite --config web/vite.config.ts` runs a dev server
// that proxies the API to a local Cordon (CORDON_URL, default http://127.0.0.1:8080).
const root = fileURLToPath(new URL('.', import.meta.url));
const target = process.env.CORDON_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root,
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/v1': { target, changeOrigin: true },
      '/console-config.json': { target, changeOrigin: true },
    },
  },
});
