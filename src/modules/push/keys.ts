import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import webpush from 'web-push';
import type { VapidKeys } from '../../config.ts';

/**
 * The embedded profile's VAPID key pair, generated on first start and kept under DATA_DIR (readable
 * by the server's user only), so that browsers' subscriptions, made with its public key, stay valid
 * across restarts. One instance's own: with DATABASE_URL the keys come from the environment.
 */
export function embeddedVapidKeys(dataDir: string): VapidKeys {
  const file = join(dataDir, 'vapid-keys.json');
  try {
    return parse(readFileSync(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const keys = webpush.generateVAPIDKeys();
  try {
    writeFileSync(file, JSON.stringify(keys), { mode: 0o600, flag: 'wx' });
    return keys;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return parse(readFileSync(file, 'utf8'), file);
    throw error;
  }
}

function parse(text: string, file: string): VapidKeys {
  const keys = JSON.parse(text) as Partial<VapidKeys>;
  if (typeof keys.publicKey !== 'string' || typeof keys.privateKey !== 'string') throw new Error(`${file} does not hold a VAPID key pair: remove it to have a new pair made`);
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}
