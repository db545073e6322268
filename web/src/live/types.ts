import type { paths } from '../api/schema';

/** A notification, as `GET /v1/notifications` lists it and the stream sends it. */
export type Notification = paths['/v1/notifications']['get']['responses'][200]['content']['application/json']['items'][number];
