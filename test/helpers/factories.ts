import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from './http.ts';

export type TestSession = {
  user: { id: string; handle: string; email: string; name: string };
  accessToken: string;
  refreshToken: string;
  password: string;
};

let counter = 0;

/** Signs up a fresh user; every field can be overridden. */
export async function signUp(
  api: Client,
  overrides: { email?: string; password?: string; name?: string; handle?: string } = {},
): Promise<TestSession> {
  counter += 1;
  const suffix = `${counter}${randomBytes(3).toString('hex')}`;
  const password = overrides.password ?? `pw-${suffix}-long-enough`;
  const answer = await api.post('/v1/auth/signup', {
    email: overrides.email ?? `user${suffix}@example.test`,
    password,
    name: overrides.name ?? `User ${suffix}`,
    ...(overrides.handle !== undefined && { handle: overrides.handle }),
  });
  assert.equal(answer.status, 201, answer.text);
  return { ...answer.body, password };
}

/** `who` follows `whom`; asserts the 204. */
export async function follow(api: Client, who: TestSession, whom: TestSession): Promise<void> {
  const answer = await api.call('PUT', `/v1/users/${whom.user.handle}/follow`, { token: who.accessToken });
  assert.equal(answer.status, 204, answer.text);
}

/** `who` stops following `whom`; asserts the 204. */
export async function unfollow(api: Client, who: TestSession, whom: TestSession): Promise<void> {
  const answer = await api.call('DELETE', `/v1/users/${whom.user.handle}/follow`, { token: who.accessToken });
  assert.equal(answer.status, 204, answer.text);
}

/** Publishes a post with this text (or this whole request body); asserts the 201 and returns the Post. */
export async function publish(api: Client, author: TestSession, post: string | Record<string, unknown>): Promise<any> {
  const answer = await api.post('/v1/posts', typeof post === 'string' ? { text: post } : post, { token: author.accessToken });
  assert.equal(answer.status, 201, answer.text);
  return answer.body;
}

/** Asserts that an answer is a problem document with this status and code. */
export function assertProblem(answer: { status: number; headers: Headers; body: any; text: string }, status: number, code: string) {
  assert.equal(answer.status, status, answer.text);
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(answer.body.code, code, answer.text);
  assert.equal(answer.body.status, status);
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(typeof answer.body.detail, 'string');
  assert.doesNotMatch(answer.text, /\bat .+\.ts:\d+/, 'no stack trace leaks');
}
