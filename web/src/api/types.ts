import type { paths } from './schema';

/**
 * Names for the shapes the client uses, read out of the generated schema (schema.d.ts, made from
 * Plaza's /openapi.json), so they follow the API as it changes.
 */
type Json<Path extends keyof paths, Method extends keyof paths[Path], Status extends number> = paths[Path][Method] extends {
  responses: { [S in Status]: { content: { 'application/json': infer Body } } };
}
  ? Body
  : never;

export type Session = Json<'/v1/auth/login', 'post', 200>;
export type Account = Json<'/v1/account', 'get', 200>;
export type Post = Json<'/v1/posts/{id}', 'get', 200>;
export type PostMedia = Post['media'][number];
export type User = Post['author'];
export type Page<Item> = { items: Item[]; nextCursor: string | null };
export type Provider = Json<'/v1/auth/providers', 'get', 200>['providers'][number];
export type Problem = { status: number; code: string; title?: string; detail?: string; errors?: { path: string; message: string }[] };
