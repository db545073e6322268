import type { paths } from '../api/schema';

/** The wallet's shapes, read out of the generated schema (schema.d.ts) so they follow the API. */
type Json<Answer> = Answer extends { content: { 'application/json': infer Body } } ? Body : never;

export type Wallet = Json<paths['/v1/wallet']['get']['responses'][200]>;
export type Transaction = Json<paths['/v1/wallet/transactions']['get']['responses'][200]>['items'][number];
export type CoinPackage = Json<paths['/v1/wallet/packages']['get']['responses'][200]>['packages'][number];
export type Topup = Json<paths['/v1/wallet/topups/{id}']['get']['responses'][200]>;
