import type { paths } from '../api/schema';

/** The API's shapes this area uses, read out of the generated schema so they follow the API. */
export type Recording = paths['/v1/recordings/{id}']['get']['responses'][200]['content']['application/json'];
