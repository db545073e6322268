import { ensureWebClientBuilt } from '../../src/http/web-client-build.ts';

/**
 * The web client built, as `npm start` builds it: tests that serve it call this in a `before` hook
 * (a fresh clone has no web/dist). Once per test process; test files racing each other is safe
 * (each build replaces web/dist whole).
 */
let building: ReturnType<typeof ensureWebClientBuilt> | undefined;

export function webClientBuilt(): ReturnType<typeof ensureWebClientBuilt> {
  building ??= ensureWebClientBuilt();
  return building;
}
