import type { FastifyBaseLogger } from 'fastify';
import type { BlobStore, ListedBlob } from '#platform/blobs/types.ts';
import type { Database } from '#platform/db/database.ts';
import { defineJob, type AnyJobDefinition } from '#platform/queue/jobs.ts';
import type { AccountsService } from '../accounts/service.ts';
import * as store from './store.ts';

export const SWEEP_MEDIA_JOB = 'media.sweep';

/** Rows are looked up this many ids at a time. */
const BATCH = 500;

export type SweeperDeps = {
  db: Database;
  blobs: BlobStore;
  accounts: Pick<AccountsService, 'currentAvatarIds'>;
  /** Bytes younger than this are left alone: their upload may not have written its row yet. */
  graceSeconds: number;
  /** How often the sweep runs. */
  everyMs: number;
  logger: FastifyBaseLogger;
};

/**
 * Removes bytes no row points to — left by a crash between storing an upload and writing its row,
 * by a failed delete, or by a replaced profile image — once they are older than the grace period.
 */
export function sweeperJob(deps: SweeperDeps): AnyJobDefinition {
  return defineJob({
    name: SWEEP_MEDIA_JOB,
    everyMs: deps.everyMs,
    handler: async () => {
      const olderThan = Date.now() - deps.graceSeconds * 1000;
      const media = await sweep(deps, 'media/', olderThan, (ids) => mediaOwned(deps.db, ids));
      const avatars = await sweep(deps, 'avatars/', olderThan, (ids) => avatarsInUse(deps.accounts, ids));
      if (media + avatars > 0) deps.logger.info({ media, avatars }, 'sweeper: removed orphaned blobs');
    },
  });
}

/**
 * Walks the blobs under `prefix` (keys `prefix/<owner>/<item>/<file>`), asking `inUse` in batches
 * which `<owner>/<item>` pairs still have a row; removes the old blobs of the others.
 */
async function sweep(
  deps: SweeperDeps,
  prefix: string,
  olderThan: number,
  inUse: (items: string[]) => Promise<Set<string>>,
): Promise<number> {
  let removed = 0;
  let batch: ListedBlob[] = [];
  const flush = async () => {
    const items = [...new Set(batch.map((blob) => itemOf(prefix, blob.key)))];
    const kept = await inUse(items);
    for (const blob of batch) {
      if (kept.has(itemOf(prefix, blob.key))) continue;
      await deps.blobs.delete(blob.key);
      removed += 1;
    }
    batch = [];
  };
  for await (const blob of deps.blobs.list(prefix)) {
    if (blob.modifiedAt.getTime() >= olderThan) continue;
    batch.push(blob);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return removed;
}

/** `<owner>/<item>` of a key under `prefix`. */
function itemOf(prefix: string, key: string): string {
  return key.slice(prefix.length).split('/').slice(0, 2).join('/');
}

async function mediaOwned(db: Database, items: string[]): Promise<Set<string>> {
  const existing = await store.existingMedia(db, items.map(splitItem));
  return new Set(existing.map(({ ownerId, id }) => `${ownerId}/${id}`));
}

async function avatarsInUse(accounts: SweeperDeps['accounts'], items: string[]): Promise<Set<string>> {
  const current = await accounts.currentAvatarIds([...new Set(items.map((item) => splitItem(item).ownerId))]);
  return new Set(items.filter((item) => current.get(splitItem(item).ownerId) === splitItem(item).id));
}

function splitItem(item: string): { ownerId: string; id: string } {
  const [ownerId = '', id = ''] = item.split('/');
  return { ownerId, id };
}
