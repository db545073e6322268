/** The square sizes of a profile image, by the side in pixels (a smaller source gives smaller ones). */
export const AVATAR_SIDES = { small: 128, medium: 400, large: 1024 } as const;

export type AvatarSize = keyof typeof AVATAR_SIDES;

/**
 * Where a profile image's bytes live: the upload while it is cut (`staged`), then its sizes. Keys
 * start with the user (media's purge of a deleted account removes `avatars/<user>/`) and then the
 * image id (the sweeper keeps only the user's current one).
 */
export const avatarKey = (userId: string, avatarId: string, file: 'staged' | AvatarSize) => `avatars/${userId}/${avatarId}/${file}`;

export const AVATAR_SIZES = Object.keys(AVATAR_SIDES) as AvatarSize[];
