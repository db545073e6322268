import { buildWebClient } from '../src/http/web-client-build.ts';

/** `npm run build:web`: builds the web client into web/dist (with the stamp `npm start` checks), whether or not it is stale. */
const started = performance.now();
await buildWebClient();
console.log(`web client built into web/dist in ${Math.round(performance.now() - started)} ms`);
