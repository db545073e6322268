import { defineConfig } from 'vite';

/**
 * Plaza's web client. `npm run dev` (at the repository root) serves it with hot reload and passes
 * every server path to a running Plaza (PLAZA_URL, default http://127.0.0.1:8080), so the client calls
 * the API on its own origin in development as it does when Plaza serves the build.
 */
const plaza = process.env.PLAZA_URL ?? 'http://127.0.0.1:8080';
/** Plaza's own top-level paths; everything else is a page of the client. A new top-level server path goes here too. */
const SERVER_PATHS = ['/v1', '/docs', '/openapi.json', '/healthz', '/readyz', '/ping', '/metrics', '/favicon.ico', '/favicon.svg'];

export default defineConfig({
  // Preact's JSX runtime, compiled by Vite's own transformer: no Babel in the build.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // Every browser the client supports preloads modules itself; the polyfill would be dead weight.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: Object.fromEntries(SERVER_PATHS.map((path) => [path, { target: plaza, changeOrigin: false, ws: false }])),
  },
});
