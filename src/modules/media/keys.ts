import type { VariantName } from './tables.ts';

/** What a media item's files are called: the upload as it came, and the variants made from it. */
export type MediaFile = 'original' | VariantName;

/**
 * Where a media item's bytes live. Keys start with the owner, so an account's bytes can be found and
 * removed by prefix, and with the id, so the sweeper can tell which row (if any) a blob belongs to.
 */
export const mediaKey = (ownerId: string, mediaId: string, file: MediaFile) => `media/${ownerId}/${mediaId}/${file}`;

export const ownerMediaPrefix = (ownerId: string) => `media/${ownerId}/`;

/** Where every file of one item lives. */
export const mediaItemPrefix = (ownerId: string, mediaId: string) => `media/${ownerId}/${mediaId}/`;

export const MEDIA_FILES: readonly MediaFile[] = ['original', 'clean', 'thumbnail', 'small', 'large'];

/**
 * Every prefix under which a user's bytes live, for removing them all with the account: their media,
 * and their profile images (which the avatars module keeps under `avatars/<user>/`).
 */
export const ownerPrefixes = (userId: string) => [ownerMediaPrefix(userId), `avatars/${userId}/`];
