import { readFileSync } from 'node:fs';

/** One of the files in `assets/` (Plaza's icon and logo), read once by whoever serves it. */
export function readAsset(name: string): Buffer {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url));
}
