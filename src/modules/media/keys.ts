import type { AvatarSize } from './processing/image.ts';
import type { VariantName } from './tables.ts';

/** What a media item's files are called: the upload as it came, and the variants made from it. */
export type MediaFile = 'original' | VariantName;

/**
 * Where a media item's bytes live. Keys start with the owner, so an account's bytes can be found and
 * removed by prefix, and with the id, so the sweeper can tell which row (if any) a blob belongs to.
 */
export const mediaKey = (ownerId: string, mediaId: string, file: MediaFile) => `media/${ownerId}/${mediaId}/${file}`;

export const ownerMediaPrefix = (ownerId: string) => `media/${ownerId}/`;

export const MEDIA_FILES: readonly MediaFile[] = ['original', 'thumbnail', 'small', 'large'];

/** A profile image: the upload (kept only while it is processed) and its square sizes. */
export const avatarKey = (userId: string, avatarId: string, file: 'original' | AvatarSize) =>
  `avatars/${userId}/${avatarId}/${file}`;

export const AVATAR_FILES = ['original', 'small', 'medium', 'large'] as const;

/** Every prefix under which a user's bytes live, for removing them all with the account. */
export const ownerPrefixes = (userId: string) => [ownerMediaPrefix(userId), `avatars/${userId}/`];
