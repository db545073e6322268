import { api, problemOf } from '../api/client.ts';
import type { Post, Problem } from '../api/types.ts';
import type { Wallet } from './types.ts';

export type PurchaseResult = { kind: 'bought'; post: Post } | { kind: 'alreadyBought'; post: Post } | { kind: 'refused'; problem: Problem };

/**
 * Buys `postId` (POST /v1/posts/{id}/purchase) and reads the post again, now unlocked with its media.
 * `idempotencyKey` makes a retry after a lost answer safe: Plaza replays the first answer instead of
 * charging twice. A post bought already (another tab, another device) is read again too: it is the
 * caller's to see.
 */
export async function buyPost(postId: string, idempotencyKey: string): Promise<PurchaseResult> {
  try {
    return await purchaseAndRead(postId, idempotencyKey);
  } catch {
    // fetch itself failed: no answer came, so the same key is the one to retry with.
    return { kind: 'refused', problem: problemOf(undefined, undefined) };
  }
}

async function purchaseAndRead(postId: string, idempotencyKey: string): Promise<PurchaseResult> {
  const bought = await api.POST('/v1/posts/{id}/purchase', { params: { path: { id: postId }, header: { 'idempotency-key': idempotencyKey } } });
  const already = bought.error !== undefined && problemOf(bought.error, bought.response).code === 'already_purchased';
  if (bought.data === undefined && !already) return { kind: 'refused', problem: problemOf(bought.error, bought.response) };
  const read = await api.GET('/v1/posts/{id}', { params: { path: { id: postId } } });
  if (read.data === undefined) return { kind: 'refused', problem: problemOf(read.error, read.response) };
  return { kind: already ? 'alreadyBought' : 'bought', post: read.data };
}

/** A fresh Idempotency-Key: random, printable, no spaces (works outside secure contexts, unlike randomUUID). */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `web-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
}

/** The signed-in user's balance and debt (GET /v1/wallet). */
export async function readWallet(): Promise<Wallet> {
  const { data, error, response } = await api.GET('/v1/wallet');
  if (data === undefined) throw problemOf(error, response);
  return data;
}
