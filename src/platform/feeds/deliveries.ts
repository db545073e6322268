import type { FeedDelivery } from './types.ts';

/**
 * Most entries (one post in one feed) a feed store writes in one round trip. A fan-out batch of 200
 * posts to authors with up to FANOUT_MAX_FOLLOWERS followers each could otherwise be one statement
 * of millions of rows: a round trip this size stays in the tens of milliseconds and a few megabytes.
 */
export const FEED_ENTRIES_PER_WRITE = 10_000;

/**
 * The deliveries cut into groups of at most `most` entries each (users × posts, summed over the
 * group), in order: a delivery too large for one group is split by users, and by posts when even one
 * user's are too many. Groups are filled to the brim, so there are as few as the bound allows.
 */
export function* deliveryGroups(deliveries: readonly FeedDelivery[], most = FEED_ENTRIES_PER_WRITE): Generator<FeedDelivery[]> {
  let group: FeedDelivery[] = [];
  let size = 0;
  for (const { userIds, entries } of deliveries) {
    for (let first = 0; first < entries.length; first += most) {
      const part = entries.slice(first, first + most);
      for (let done = 0; done < userIds.length; ) {
        if (size + part.length > most) {
          yield group;
          [group, size] = [[], 0];
        }
        const users = userIds.slice(done, done + Math.floor((most - size) / part.length));
        group.push({ userIds: users, entries: part });
        size += users.length * part.length;
        done += users.length;
      }
    }
  }
  if (group.length > 0) yield group;
}
