import { readFileSync } from 'node:fs';

/** Plaza's version, from its package.json (read when asked, not at import time). */
export function packageVersion(): string {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
}
