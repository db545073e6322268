import assert from 'node:assert/strict';
import { createECDH, createHash, randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import webpush from 'web-push';
import { startApp } from './helpers/app.ts';
import { follow, publish, signUp, type TestSession } from './helpers/factories.ts';
import { client } from './helpers/http.ts';
import { paymentsEnv, startFakeStripe } from './helpers/ledger.ts';
import { putRecording, uploadAndSettle, waitForMedia } from './helpers/media.ts';
import { imageSample, orientedJpegWithGps, wavSample } from './helpers/media-samples.ts';
import { eventually } from './helpers/wait.ts';

/**
 * The authorization matrix. Every route in the app's own route table is tried, with Alice's things
 * in its path, by callers who must not get at them: nobody, a malformed token, a revoked token, and
 * Bob (signed in, not following her); where visibility depends on following, by Carol (who follows
 * her) too. Each answer must have the status API.md gives, must hold none of Alice's private data
 * (ids, texts, file names, email, photo metadata — only what the case says that caller may see), and
 * once every route has been tried, everything Alice owns reads exactly as before.
 *
 * A route the matrix has no case for, and that is not exempted below with its reason, fails the
 * coverage test: a new route cannot slip by.
 */

const stripe = await startFakeStripe();
after(() => stripe.close());
// Web Push on, its pushes sent to a port where nothing listens (an internal origin, so no other address is ever called).
const PUSH_ORIGIN = 'https://127.0.0.1:1';
const vapidKeys = webpush.generateVAPIDKeys();
const pushEnv = { VAPID_SUBJECT: 'mailto:matrix@plaza.social', VAPID_PUBLIC_KEY: vapidKeys.publicKey, VAPID_PRIVATE_KEY: vapidKeys.privateKey, PUSH_INTERNAL_ORIGINS: PUSH_ORIGIN };
const testApp = await startApp({ ...paymentsEnv(stripe.url), ...pushEnv });
const api = client(testApp);
after(() => testApp.close());

type Actor = 'owner' | 'anonymous' | 'malformed' | 'revoked' | 'stranger' | 'follower';

type Expectation = {
  status: number;
  /** The problem's `code`; the usual one for the status when absent. */
  code?: string;
  /** Names (see `secrets`) of Alice's private data this caller may see in the answer. */
  reveals?: readonly SecretName[];
  /** Runs after the attempt: takes back what a caller may legitimately do (a like, a follow). */
  undo?: () => Promise<unknown>;
};

/** One request a case makes, and what each caller gets for it. */
type Attempt = {
  path: string;
  body?: unknown;
  raw?: Buffer;
  headers?: Record<string, string>;
  expect: Partial<Record<Actor, number | Expectation>>;
};

type RouteCase = (fixtures: Fixtures) => Attempt[];

// ---------------------------------------------------------------------------------------------
// Alice's things, and the other callers

const tag = randomBytes(4).toString('hex');
const [alice, bob, carol, dave] = await Promise.all([signUp(api), signUp(api), signUp(api), signUp(api)]);
const revokedToken = dave.accessToken;
assert.equal((await api.post('/v1/auth/logout', { refreshToken: dave.refreshToken })).status, 204);

const tokens: Record<Actor, string | undefined> = {
  owner: alice.accessToken,
  anonymous: undefined,
  malformed: 'not-a-real-token',
  revoked: revokedToken,
  stranger: bob.accessToken,
  follower: carol.accessToken,
};

const as = (session: TestSession) => ({ token: session.accessToken });
/** A browser's push subscription: a P-256 public key and a 16-byte auth secret. */
const pushKeys = () => ({ p256dh: createECDH('prime256v1').generateKeys().toString('base64url'), auth: randomBytes(16).toString('base64url') });
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const TUS = { 'tus-resumable': '1.0.0' };

async function created(answer: Promise<{ status: number; body: any; text: string }>, status = 201): Promise<any> {
  const settled = await answer;
  assert.equal(settled.status, status, settled.text);
  return settled.body;
}

/** The id at the end of a tus creation's Location. */
function uploadIdOf(answer: { status: number; headers: Headers; text: string }): string {
  assert.equal(answer.status, 201, answer.text);
  return new URL(answer.headers.get('location') ?? '', testApp.url).pathname.split('/').at(-1) as string;
}

async function createFixtures() {
  const fileName = (what: string) => `alice-${what}-${tag}.png`;
  const memo = await created(api.post('/v1/memos', { text: `alice's memo ${tag}` }, as(alice)));
  const unattached = await uploadAndSettle(api, alice.accessToken, await imageSample('png'), { fileName: fileName('unattached') });
  const publicImage = await uploadAndSettle(api, alice.accessToken, await orientedJpegWithGps(), { fileName: `alice-public-${tag}.jpg` });
  const followersImage = await uploadAndSettle(api, alice.accessToken, await imageSample('png'), { fileName: fileName('followers') });
  const paidImage = await uploadAndSettle(api, alice.accessToken, await imageSample('png'), { fileName: fileName('paid') });
  const publicPost = await publish(api, alice, { text: `public ${tag}`, mediaIds: [publicImage.id] });
  const followersPost = await publish(api, alice, { text: `for followers ${tag}`, mediaIds: [followersImage.id], visibility: 'followers' });
  const paidPost = await publish(api, alice, { text: `paid ${tag}`, mediaIds: [paidImage.id], priceCoins: 5 });
  const recording = await created(putRecording(api, alice.accessToken, `alice-recording-${tag}.wav`, wavSample(1)));
  const topup = await created(api.post('/v1/wallet/topups', { packageId: 'coins-100' }, as(alice)));
  const avatar = await created(api.call('PUT', '/v1/account/avatar', { ...as(alice), raw: await imageSample('png'), headers: { 'content-type': 'image/png' } }), 200);

  // A resumable upload halfway through, and one whose media item exists.
  const audio = wavSample(1);
  const uploadMetadata = `filename ${b64(`alice-upload-${tag}.wav`)},filetype ${b64('audio/wav')}`;
  const open = await api.call('POST', '/v1/uploads', {
    ...as(alice),
    headers: { ...TUS, 'upload-length': String(audio.length), 'upload-metadata': uploadMetadata },
  });
  const openUpload = uploadIdOf(open);
  const patched = await api.call('PATCH', `/v1/uploads/${openUpload}`, {
    ...as(alice),
    raw: audio.subarray(0, 100),
    headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
  });
  assert.equal(patched.status, 204, patched.text);
  const done = await api.call('POST', '/v1/uploads', {
    ...as(alice),
    raw: audio,
    headers: { ...TUS, 'upload-length': String(audio.length), 'upload-metadata': uploadMetadata, 'content-type': 'application/offset+octet-stream' },
  });
  const doneUpload = uploadIdOf(done);
  const uploadedMedia: string = await eventually(async () => {
    const state = await api.get(`/v1/uploads/${doneUpload}`, as(alice));
    assert.equal(state.body.status, 'done', state.text);
    return state.body.mediaId;
  });
  await waitForMedia(api, alice.accessToken, uploadedMedia);

  await follow(api, carol, alice);
  // Carol's follow tells Alice: a notification of hers, which no one else may read or mark read.
  await testApp.deps.outbox.drained(10_000);
  const notification = (await api.get('/v1/notifications', as(alice))).body.items[0];
  assert.equal(notification?.type, 'follow');
  const pushSubscription = await created(api.post('/v1/push/subscriptions', { endpoint: `${PUSH_ORIGIN}/push/alice-${tag}`, keys: pushKeys() }, as(alice)));
  // The public post's photo as anyone is shown it: links to what others may have of it.
  const publicLinks = (await api.get(`/v1/posts/${publicPost.id}`)).body.media[0] as { url: string; thumbnailUrl: string };
  return {
    memo, unattached, publicImage, followersImage, paidImage, publicPost, followersPost, paidPost, recording, topup,
    openUpload, doneUpload, uploadedMedia, publicLinks, handle: alice.user.handle, avatarUrl: avatar.avatarUrl as string, notification,
    pushSubscription,
  };
}

type Fixtures = Awaited<ReturnType<typeof createFixtures>>;
const fixtures = await createFixtures();

/** Alice's private data, by name: none of it may reach anyone else unless a case says so. */
function secretsOf(f: Fixtures) {
  return {
    email: alice.user.email,
    accessToken: alice.accessToken,
    refreshToken: alice.refreshToken,
    'memo.id': f.memo.id,
    'memo.text': f.memo.text,
    'unattached.id': f.unattached.id,
    'unattached.fileName': f.unattached.fileName,
    'publicImage.fileName': f.publicImage.fileName,
    // What the camera wrote into the photo (orientedJpegWithGps): others get its bytes without it.
    'publicImage.camera': 'Plaza Test Camera',
    'followersPost.id': f.followersPost.id,
    'followersPost.text': f.followersPost.text,
    'followersImage.id': f.followersImage.id,
    'followersImage.fileName': f.followersImage.fileName,
    'paidImage.fileName': f.paidImage.fileName,
    // A locked post shows its media's id, never a link to the bytes.
    'paidImage.link': `/v1/media/${f.paidImage.id}/content`,
    'recording.id': f.recording.id,
    'recording.fileName': f.recording.fileName,
    'openUpload.id': f.openUpload,
    'doneUpload.id': f.doneUpload,
    'uploadedMedia.id': f.uploadedMedia,
    'upload.fileName': `alice-upload-${tag}.wav`,
    'topup.id': f.topup.id,
    'notification.id': f.notification.id,
    'pushSubscription.endpoint': f.pushSubscription.endpoint,
  };
}
type SecretName = keyof ReturnType<typeof secretsOf>;
const secrets = secretsOf(fixtures);

// ---------------------------------------------------------------------------------------------
// The cases, by route as the route table names it

const followersPostReveals: SecretName[] = ['followersPost.id', 'followersPost.text', 'followersImage.id'];
const followerSeesId: Expectation = { status: 200, reveals: ['followersImage.id'] };
const like = (session: TestSession, postId: string, method: 'PUT' | 'DELETE') => () =>
  api.call(method, `/v1/posts/${postId}/like`, as(session));
const contentOf = (id: string, query = '') => `/v1/media/${id}/content${query}`;
/** A link's path and query, as the server handed it out (relative or under PUBLIC_URL). */
const pathOf = (url: string) => {
  const { pathname, search } = new URL(url, testApp.url);
  return `${pathname}${search}`;
};

/** Routes with nothing of anyone's in them, or whose own credential is the authorization. */
const EXEMPT: Record<string, string> = {
  'GET /ping': 'public liveness check; no user data',
  'GET /healthz': 'public liveness check; no user data',
  'GET /readyz': 'public readiness check; no user data',
  'GET /openapi.json': 'public API description',
  'GET /docs': 'public API documentation',
  'GET /docs/': 'public API documentation',
  'GET /docs/static/index.html': 'public API documentation',
  'GET /docs/static/swagger-initializer.js': 'public API documentation',
  'GET /docs/json': 'public API documentation',
  'GET /docs/yaml': 'public API documentation',
  'GET /docs/*': 'public API documentation (static files)',
  'GET /docs/static/theme/plaza.svg': "public API documentation (Plaza's icon)",
  'GET /': "the web client's page (index.html); no user data",
  'GET /assets/{name}': "the web client's scripts and styles; no user data",
  'GET /sw.js': "the web client's service worker (a static script); no user data",
  'GET /favicon.ico': "Plaza's icon; no user data",
  'GET /favicon.svg': "Plaza's icon; no user data",
  'GET /metrics': "operators' metrics, no user data; who may read them is issue 9 item 10's own test",
  'OPTIONS *': 'CORS preflight: no credentials, no work',
  'POST /v1/auth/signup': 'public: creates a new account, takes no id',
  'POST /v1/auth/login': 'public: the email and password are the authorization',
  'POST /v1/auth/refresh': 'public: the refresh token is the authorization',
  'POST /v1/auth/logout': 'public: the refresh token is the authorization',
  'GET /v1/auth/providers': 'public server configuration',
  'POST /v1/auth/social': "public: the provider's signed ID token is the authorization (forged, replayed and foreign ones: test/social-sign-in.test.ts)",
  'GET /v1/auth/oauth/{provider}/authorize':
    "public: starts a sign-in, takes no id; with link=true it reads the caller's own token only (anonymous and bad tokens: test/social-web-flow.test.ts)",
  'GET /v1/auth/oauth/{provider}/callback':
    'public: the single-use state, bound to the browser that started it, is the authorization (forged, replayed, foreign: test/social-web-flow.test.ts)',
  'POST /v1/auth/oauth/{provider}/callback': "public: Apple's form_post of the same callback, the same state rules (test/social-web-flow.test.ts)",
  'GET /v1/wallet/packages': 'public server configuration (COIN_PACKAGES); no user data',
  'POST /v1/payments/webhooks/stripe': "public: Stripe's signature over the body is the authorization (forged ones: test/topups.test.ts)",
};

const CASES: Record<string, RouteCase> = {
  // Account: whatever the caller sends, these act on the caller's own account only.
  'GET /v1/account': () => [{ path: '/v1/account', expect: { owner: 200, stranger: 200 } }],
  'PATCH /v1/account': () => [
    { path: '/v1/account', body: { handle: alice.user.handle }, expect: { stranger: { status: 409, code: 'handle_taken' } } },
  ],
  'PUT /v1/account/password': () => [
    {
      path: '/v1/account/password',
      body: { currentPassword: alice.password, newPassword: `taken-over-${tag}` },
      expect: { stranger: { status: 403, code: 'invalid_credentials' } },
    },
  ],
  'DELETE /v1/account': () => [
    { path: '/v1/account', body: { password: alice.password }, expect: { stranger: { status: 403, code: 'invalid_credentials' } } },
  ],
  'PUT /v1/account/avatar': () => [
    { path: '/v1/account/avatar', raw: Buffer.from('not read'), headers: { 'content-type': 'image/png' }, expect: {} },
  ],
  'DELETE /v1/account/avatar': () => [{ path: '/v1/account/avatar', expect: { stranger: 204 } }],
  // Sign-in methods: the caller's own only (this app configures no provider; linking for real: test/social-sign-in.test.ts).
  'POST /v1/account/identities/{provider}': () => [
    { path: '/v1/account/identities/google', body: { token: 'not-a-provider-token' }, expect: { stranger: 404 } },
  ],
  'DELETE /v1/account/identities/{provider}': () => [{ path: '/v1/account/identities/google', expect: { stranger: 404 } }],

  // Memos: only the owner ever sees one.
  'POST /v1/memos': () => [{ path: '/v1/memos', body: { text: 'anonymous memo' }, expect: {} }],
  'GET /v1/memos': (f) => [
    { path: '/v1/memos?limit=100', expect: { owner: 200, stranger: 200 } },
    { path: `/v1/memos?q=${encodeURIComponent(f.memo.text)}`, expect: { stranger: 200 } },
  ],
  'GET /v1/memos/{id}': (f) => [{ path: `/v1/memos/${f.memo.id}`, expect: { owner: 200, stranger: 404 } }],
  'PATCH /v1/memos/{id}': (f) => [{ path: `/v1/memos/${f.memo.id}`, body: { text: 'rewritten by someone else' }, expect: { stranger: 404 } }],
  'DELETE /v1/memos/{id}': (f) => [{ path: `/v1/memos/${f.memo.id}`, expect: { stranger: 404 } }],

  // Media: the item itself is its owner's; its bytes reach others through posts they may read.
  'POST /v1/media': () => [{ path: '/v1/media', raw: Buffer.from('not read'), headers: { 'content-type': 'image/png' }, expect: {} }],
  'GET /v1/media/{id}': (f) =>
    [f.unattached.id, f.publicImage.id, f.followersImage.id, f.paidImage.id, f.uploadedMedia].map((id) => ({
      path: `/v1/media/${id}`,
      expect: { owner: 200, stranger: 404, follower: 404 },
    })),
  'DELETE /v1/media/{id}': (f) =>
    [f.unattached.id, f.publicImage.id, f.followersImage.id, f.paidImage.id, f.uploadedMedia].map((id) => ({
      path: `/v1/media/${id}`,
      expect: { stranger: 404, follower: 404 },
    })),
  'GET /v1/media/{id}/content': (f) => [
    // With a bearer token: through a post the caller may read, or not at all.
    { path: contentOf(f.unattached.id), expect: { owner: 200, anonymous: 401, stranger: 404, follower: 404 } },
    { path: contentOf(f.unattached.id, '?variant=thumbnail'), expect: { owner: 200, anonymous: 401, stranger: 404 } },
    { path: contentOf(f.uploadedMedia), expect: { owner: 200, anonymous: 401, stranger: 404 } },
    { path: contentOf(f.publicImage.id), expect: { owner: 200, anonymous: 401, stranger: 200, follower: 200 } },
    // The ETag names the item: a follower sees its id in the post anyway.
    { path: contentOf(f.followersImage.id), expect: { owner: 200, anonymous: 401, stranger: 404, follower: followerSeesId } },
    { path: contentOf(f.followersImage.id, '?variant=small'), expect: { owner: 200, anonymous: 401, stranger: 404, follower: followerSeesId } },
    { path: contentOf(f.paidImage.id), expect: { owner: 200, anonymous: 401, stranger: 402, follower: 402 } },
    // A signed link opens the one file of the one item it was made for, whoever holds it.
    { path: pathOf(f.publicLinks.url), expect: { anonymous: 200, stranger: 200 } },
    { path: pathOf(f.publicLinks.url).replace(f.publicImage.id, f.unattached.id), expect: { anonymous: 403, stranger: 403 } },
    { path: pathOf(f.publicLinks.thumbnailUrl).replace(/variant=\w+&/, ''), expect: { anonymous: 403, stranger: 403 } },
    { path: pathOf(f.publicLinks.url).replace(/exp=\d+/, 'exp=4102444800'), expect: { anonymous: 403, stranger: 403 } },
    { path: contentOf(f.paidImage.id, '?exp=4102444800'), expect: { anonymous: 403, stranger: 403 } },
    // A recording's link on the media path: the item is not a post's media.
    { path: pathOf(f.recording.url).replace('/v1/recordings/', '/v1/media/'), expect: { anonymous: 404, stranger: 404 } },
  ],

  // Recordings: the recorder's own list; nobody else's business.
  'PUT /v1/recordings/{fileName}': (f) => [
    // The name is a label: another user's file of the same name is theirs, and no path reaches storage.
    {
      path: `/v1/recordings/${encodeURIComponent(f.recording.fileName)}`,
      raw: wavSample(1),
      headers: { 'content-type': 'audio/wav' },
      expect: { stranger: { status: 201, reveals: ['recording.fileName'] } },
    },
    {
      path: `/v1/recordings/${encodeURIComponent(`../../media/${alice.user.id}/${f.unattached.id}/original`)}`,
      raw: wavSample(1),
      headers: { 'content-type': 'audio/wav' },
      expect: { stranger: { status: 201, reveals: ['unattached.id'] } },
    },
  ],
  'GET /v1/recordings': () => [{ path: '/v1/recordings?limit=100', expect: { owner: 200, stranger: 200 } }],
  'GET /v1/recordings/{id}': (f) => [
    { path: `/v1/recordings/${f.recording.id}`, expect: { owner: 200, stranger: 404, follower: 404 } },
  ],
  'GET /v1/recordings/{id}/content': (f) => [
    { path: `/v1/recordings/${f.recording.id}/content`, expect: { owner: 200, anonymous: 401, stranger: 404, follower: 404 } },
    { path: `/v1/recordings/${f.recording.id}/content?exp=4102444800&sig=forged`, expect: { anonymous: 403, stranger: 403 } },
    // A post's media item is not a recording, whatever link comes with it.
    { path: pathOf(f.unattached.url).replace('/v1/media/', '/v1/recordings/'), expect: { anonymous: 404, stranger: 404 } },
  ],
  'DELETE /v1/recordings/{id}': (f) => [{ path: `/v1/recordings/${f.recording.id}`, expect: { stranger: 404, follower: 404 } }],

  // Resumable uploads: each one is its creator's.
  'POST /v1/uploads': () => [{ path: '/v1/uploads', headers: { ...TUS, 'upload-length': '10' }, expect: {} }],
  'HEAD /v1/uploads/{uploadId}': (f) => [
    { path: `/v1/uploads/${f.openUpload}`, headers: TUS, expect: { owner: 200, stranger: 404, follower: 404 } },
    { path: `/v1/uploads/${f.doneUpload}`, headers: TUS, expect: { owner: 200, stranger: 404 } },
  ],
  'PATCH /v1/uploads/{uploadId}': (f) => [
    {
      path: `/v1/uploads/${f.openUpload}`,
      raw: Buffer.alloc(10),
      headers: { ...TUS, 'upload-offset': '100', 'content-type': 'application/offset+octet-stream' },
      expect: { stranger: 404, follower: 404 },
    },
  ],
  'DELETE /v1/uploads/{uploadId}': (f) => [
    { path: `/v1/uploads/${f.openUpload}`, headers: TUS, expect: { stranger: 404 } },
    { path: `/v1/uploads/${f.doneUpload}`, headers: TUS, expect: { stranger: 404 } },
  ],
  'GET /v1/uploads/{uploadId}': (f) => [
    { path: `/v1/uploads/${f.openUpload}`, expect: { owner: 200, stranger: 404 } },
    { path: `/v1/uploads/${f.doneUpload}`, expect: { owner: { status: 200, reveals: ['uploadedMedia.id'] }, stranger: 404 } },
  ],

  // Users: public profiles and lists; following is the caller's own act.
  'GET /v1/users/{handle}': (f) => [{ path: `/v1/users/${f.handle}`, expect: { anonymous: 200, stranger: 200 } }],
  'GET /v1/users/{handle}/avatar': (f) => [
    { path: `/v1/users/${f.handle}/avatar`, expect: { anonymous: 200, stranger: 200 } },
    { path: `/v1/users/${f.handle}/avatar?size=large`, expect: { anonymous: 200, stranger: 200 } },
  ],
  // Profile images are public while current: the link names the image, not the handle.
  'GET /v1/avatars/{avatarId}': (f) => [
    { path: pathOf(f.avatarUrl), expect: { anonymous: 200, stranger: 200 } },
    { path: `${pathOf(f.avatarUrl)}?size=small`, expect: { anonymous: 200, stranger: 200 } },
  ],
  'GET /v1/users/{handle}/followers': (f) => [{ path: `/v1/users/${f.handle}/followers`, expect: { anonymous: 200, stranger: 200 } }],
  'GET /v1/users/{handle}/following': (f) => [{ path: `/v1/users/${f.handle}/following`, expect: { anonymous: 200, stranger: 200 } }],
  'GET /v1/users/{handle}/posts': (f) => [
    { path: `/v1/users/${f.handle}/posts`, expect: { anonymous: 200, stranger: 200, follower: { status: 200, reveals: followersPostReveals } } },
  ],
  'PUT /v1/users/{handle}/follow': (f) => [
    {
      path: `/v1/users/${f.handle}/follow`,
      expect: { stranger: { status: 204, undo: () => api.delete(`/v1/users/${f.handle}/follow`, undefined, as(bob)) }, follower: 204 },
    },
  ],
  'DELETE /v1/users/{handle}/follow': (f) => [{ path: `/v1/users/${f.handle}/follow`, expect: { stranger: 204 } }],

  // Posts: public ones are everyone's to read; followers-only ones do not exist for anyone else.
  'POST /v1/posts': (f) => [
    { path: '/v1/posts', body: { text: 'mine now', mediaIds: [f.unattached.id] }, expect: { stranger: { status: 400, reveals: ['unattached.id'] } } },
    { path: '/v1/posts', body: { text: 'mine now', mediaIds: [f.followersImage.id] }, expect: { stranger: { status: 400, reveals: ['followersImage.id'] } } },
  ],
  'GET /v1/posts/{id}': (f) => [
    { path: `/v1/posts/${f.publicPost.id}`, expect: { anonymous: 200, stranger: 200 } },
    { path: `/v1/posts/${f.paidPost.id}`, expect: { anonymous: 200, stranger: 200, follower: 200 } },
    {
      path: `/v1/posts/${f.followersPost.id}`,
      expect: { owner: 200, anonymous: 404, stranger: 404, follower: { status: 200, reveals: followersPostReveals } },
    },
  ],
  'DELETE /v1/posts/{id}': (f) => [
    { path: `/v1/posts/${f.publicPost.id}`, expect: { stranger: 403, follower: 403 } },
    { path: `/v1/posts/${f.paidPost.id}`, expect: { stranger: 403 } },
    { path: `/v1/posts/${f.followersPost.id}`, expect: { stranger: 404, follower: 403 } },
  ],
  'PUT /v1/posts/{id}/like': (f) => [
    { path: `/v1/posts/${f.publicPost.id}/like`, expect: { stranger: { status: 204, undo: like(bob, f.publicPost.id, 'DELETE') } } },
    { path: `/v1/posts/${f.followersPost.id}/like`, expect: { stranger: 404, follower: { status: 204, undo: like(carol, f.followersPost.id, 'DELETE') } } },
  ],
  'DELETE /v1/posts/{id}/like': (f) => [
    { path: `/v1/posts/${f.publicPost.id}/like`, expect: { stranger: 204 } },
    { path: `/v1/posts/${f.followersPost.id}/like`, expect: { stranger: 404 } },
  ],
  'GET /v1/posts/{id}/likes': (f) => [
    { path: `/v1/posts/${f.publicPost.id}/likes`, expect: { anonymous: 200, stranger: 200 } },
    { path: `/v1/posts/${f.followersPost.id}/likes`, expect: { anonymous: 404, stranger: 404, follower: 200 } },
  ],
  'GET /v1/timelines/home': () => [
    { path: '/v1/timelines/home?limit=100', expect: { stranger: 200, follower: { status: 200, reveals: followersPostReveals } } },
  ],
  'GET /v1/timelines/public': () => [{ path: '/v1/timelines/public?limit=100', expect: { anonymous: 200, stranger: 200, follower: 200 } }],

  // Coins: a wallet and a library are their owner's alone; nobody here has coins, so nothing is bought.
  'GET /v1/wallet': () => [{ path: '/v1/wallet', expect: { owner: 200, stranger: 200 } }],
  'GET /v1/wallet/transactions': () => [{ path: '/v1/wallet/transactions?limit=100', expect: { owner: 200, stranger: 200 } }],
  'GET /v1/library': () => [{ path: '/v1/library?limit=100', expect: { owner: 200, stranger: 200 } }],
  'POST /v1/wallet/topups': () => [{ path: '/v1/wallet/topups', body: { packageId: 'coins-100' }, expect: { stranger: 201 } }],
  'GET /v1/wallet/topups/{id}': (f) => [{ path: `/v1/wallet/topups/${f.topup.id}`, expect: { owner: 200, stranger: 404, follower: 404 } }],
  'POST /v1/admin/grants': () => [
    { path: '/v1/admin/grants', body: { handle: alice.user.handle, coins: 5 }, expect: { owner: 403, stranger: 403, follower: 403 } },
  ],
  'POST /v1/posts/{id}/purchase': (f) => [
    { path: `/v1/posts/${f.paidPost.id}/purchase`, expect: { owner: 400, stranger: { status: 402, code: 'insufficient_funds' } } },
    { path: `/v1/posts/${f.publicPost.id}/purchase`, expect: { stranger: 400 } },
    { path: `/v1/posts/${f.followersPost.id}/purchase`, expect: { stranger: 404, follower: 400 } },
  ],

  // Notifications: each caller reads and marks their own only; an id of Alice's marks nothing of hers.
  'GET /v1/notifications': () => [
    { path: '/v1/notifications?limit=100', expect: { owner: 200, stranger: 200, follower: 200 } },
    { path: '/v1/notifications?unread=true', expect: { owner: 200, stranger: 200, follower: 200 } },
  ],
  'POST /v1/notifications/read': (f) => [{ path: '/v1/notifications/read', body: { upTo: f.notification.id }, expect: { stranger: 204, follower: 204 } }],
  'GET /v1/notifications/unread-count': () => [{ path: '/v1/notifications/unread-count', expect: { owner: 200, stranger: 200, follower: 200 } }],

  // Web Push: the key is anyone's; Alice's endpoint is not another's to take with other keys, nor to delete.
  'GET /v1/push/vapid-key': () => [{ path: '/v1/push/vapid-key', expect: { owner: 200, anonymous: 200, stranger: 200 } }],
  'POST /v1/push/subscriptions': (f) => [
    { path: '/v1/push/subscriptions', body: { endpoint: f.pushSubscription.endpoint, keys: pushKeys() }, expect: { stranger: { status: 409, code: 'push_subscription_taken' }, follower: { status: 409, code: 'push_subscription_taken' } } },
    {
      path: '/v1/push/subscriptions',
      body: { endpoint: `${PUSH_ORIGIN}/push/bob-${tag}`, keys: pushKeys() },
      expect: { stranger: { status: 201, undo: () => api.delete('/v1/push/subscriptions', { endpoint: `${PUSH_ORIGIN}/push/bob-${tag}` }, as(bob)) } },
    },
  ],
  'DELETE /v1/push/subscriptions': (f) => {
    // Still Alice's after another's DELETE: still refused to another with other keys.
    const stillAlices = async () => assert.equal((await api.post('/v1/push/subscriptions', { endpoint: f.pushSubscription.endpoint, keys: pushKeys() }, as(bob))).status, 409);
    return [{ path: '/v1/push/subscriptions', body: { endpoint: f.pushSubscription.endpoint }, expect: { stranger: { status: 204, undo: stillAlices }, follower: { status: 204, undo: stillAlices } } }];
  },
  // An open stream answers 200 and never ends, so only the refusals are checked here (no token, a
  // malformed or revoked one, by header or ?access_token=); that each caller hears only their own
  // events, and that a revoked session's stream closes, is test/stream.test.ts.
  'GET /v1/stream': () => [{ path: '/v1/stream', expect: {} }, { path: '/v1/stream?access_token=not-a-token', expect: { anonymous: 401 } }],
};

// ---------------------------------------------------------------------------------------------
// The route table

type Route = {
  key: string;
  method: string;
  path: string;
  params: string[];
  /** The route reads a bearer token (its OpenAPI `security` names one); public routes ignore any. */
  readsToken: boolean;
  /** Anonymous callers are served too (`security` also holds `{}`). */
  signInOptional: boolean;
  takesJson: boolean;
  takesQuery: boolean;
};

/** `/v1/x/{id}` and `/v1/x/:id` alike, whatever the parameter is called. */
const shape = (path: string) => path.replace(/\{[^}]+\}/g, '{}').replace(/:[^/]+/g, '{}');

/**
 * Every method and path Fastify routes, read from `printRoutes()` (routes hidden from the OpenAPI
 * document and HEAD routes included), named as `/openapi.json` names them where it describes them.
 */
async function routeTable(app: FastifyInstance): Promise<Route[]> {
  const document = (await api.get('/openapi.json')).body as { paths: Record<string, Record<string, any>> };
  const described = new Map<string, { path: string; operation: any }>();
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) described.set(`${method.toUpperCase()} ${shape(path)}`, { path, operation });
  }
  const routes: Route[] = [];
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] as string).length / 4;
    prefixes.length = depth;
    const path = prefixes.join('') + (match[2] as string);
    prefixes.push(match[2] as string);
    for (const method of match[3]?.split(', ') ?? []) {
      // HEAD routes Fastify adds to GET ones are the GET's, which is what the document describes.
      const found = described.get(`${method} ${shape(path)}`) ?? (method === 'HEAD' ? described.get(`GET ${shape(path)}`) : undefined);
      const name = found?.path ?? path.replace(/:(\w+)[^/]*/g, '{$1}');
      const operation = found?.operation ?? {};
      const security: object[] = operation.security ?? [];
      routes.push({
        key: `${method} ${name}`,
        method,
        path: name,
        params: [...name.matchAll(/\{(\w+)\}/g)].map((param) => param[1] as string),
        readsToken: security.some((requirement) => 'bearer' in requirement),
        signInOptional: security.some((requirement) => Object.keys(requirement).length === 0),
        takesJson: operation.requestBody?.content?.['application/json'] !== undefined,
        takesQuery: (operation.parameters ?? []).some((parameter: { in: string }) => parameter.in === 'query'),
      });
    }
  }
  // The table must at least hold what the OpenAPI document describes, or the parsing above is wrong.
  const keys = new Set(routes.map((route) => `${route.method} ${shape(route.path)}`));
  assert.deepEqual([...described.keys()].filter((key) => !keys.has(key)), [], 'routes in /openapi.json that the route table lacks');
  return routes;
}

const routes = await routeTable(testApp.app);
const caseOf = (route: Route): RouteCase | undefined =>
  CASES[route.key] ?? (route.method === 'HEAD' ? CASES[`GET ${route.path}`] : undefined);
const exemptionOf = (route: Route): string | undefined =>
  EXEMPT[route.key] ?? (route.method === 'HEAD' ? EXEMPT[`GET ${route.path}`] : undefined);

// ---------------------------------------------------------------------------------------------
// Running an attempt

const ACTORS: readonly Actor[] = ['owner', 'anonymous', 'malformed', 'revoked', 'stranger', 'follower'];
const USUAL_CODE: Record<number, string> = { 400: 'invalid_request', 401: 'unauthorized', 402: 'purchase_required', 403: 'forbidden', 404: 'not_found' };

type Reply = { status: number; headers: Headers; bytes: Buffer };

async function send(method: string, attempt: Attempt, token: string | undefined, pathOverride?: string): Promise<Reply> {
  const headers: Record<string, string> = { ...attempt.headers };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let body: string | Buffer | undefined = attempt.raw;
  if (attempt.body !== undefined) {
    body = JSON.stringify(attempt.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(new URL(pathOverride ?? attempt.path, testApp.url), { method, headers, body, redirect: 'manual' });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

/** Every expectation of an attempt, the automatic ones included: no valid token, no entry. */
function expectationsOf(route: Route, attempt: Attempt): [Actor, Expectation][] {
  const given = { ...attempt.expect };
  if (route.readsToken) {
    if (!route.signInOptional) given.anonymous ??= 401;
    given.malformed ??= 401;
    given.revoked ??= 401;
  }
  return ACTORS.flatMap((actor) => {
    const expectation = given[actor];
    if (expectation === undefined) return [];
    return [[actor, typeof expectation === 'number' ? { status: expectation } : expectation]];
  });
}

function checkReply(route: Route, attempt: Attempt, actor: Actor, expected: Expectation, reply: Reply): void {
  const what = `${route.method} ${attempt.path} as ${actor}`;
  const text = reply.bytes.toString('latin1');
  const type = reply.headers.get('content-type') ?? '';
  const shown = /json|text/.test(type) ? `: ${text.slice(0, 300)}` : ` (${type})`;
  if (reply.status !== expected.status) assert.fail(`${what}: ${reply.status}, not ${expected.status}${shown}`);
  if (reply.status >= 400 && route.method !== 'HEAD') {
    const code = expected.code ?? USUAL_CODE[reply.status];
    if (!type.startsWith('application/problem+json') || JSON.parse(text).code !== code) assert.fail(`${what}: not a ${code} problem${shown}`);
  }
  if (actor === 'owner') return;
  const seen = `${[...reply.headers].map(([name, value]) => `${name}: ${value}`).join('\n')}\n\n${text}`;
  const leaked = Object.entries(secrets)
    .filter(([name, value]) => !(expected.reveals ?? []).includes(name as SecretName) && seen.includes(value))
    .map(([name]) => name);
  if (leaked.length > 0) assert.fail(`${what} received Alice's ${leaked.join(', ')}`);
}

/** What Alice reads of everything she has, links' signatures aside, with digests of her bytes. */
async function aliceReads(f: Fixtures): Promise<Record<string, unknown>> {
  const paths = [
    '/v1/account',
    `/v1/memos/${f.memo.id}`,
    '/v1/memos?limit=100',
    ...[f.unattached, f.publicImage, f.followersImage, f.paidImage].map((media) => `/v1/media/${media.id}`),
    `/v1/media/${f.uploadedMedia}`,
    `/v1/recordings/${f.recording.id}`,
    '/v1/recordings?limit=100',
    ...[f.publicPost, f.followersPost, f.paidPost].flatMap((post) => [`/v1/posts/${post.id}`, `/v1/posts/${post.id}/likes`]),
    `/v1/uploads/${f.openUpload}`,
    `/v1/uploads/${f.doneUpload}`,
    `/v1/users/${f.handle}/followers`,
    `/v1/users/${f.handle}/following`,
    '/v1/timelines/home?limit=100',
    `/v1/wallet/topups/${f.topup.id}`,
    '/v1/notifications?limit=100',
    '/v1/notifications/unread-count',
  ];
  const bytePaths = [
    ...[f.unattached.id, f.publicImage.id, f.followersImage.id, f.paidImage.id, f.uploadedMedia].map((id) => `/v1/media/${id}/content`),
    `/v1/recordings/${f.recording.id}/content`,
    `/v1/users/${f.handle}/avatar`,
    pathOf(f.avatarUrl),
  ];
  const reads: Record<string, unknown> = {};
  for (const path of paths) {
    const answer = await api.get(path, as(alice));
    reads[path] = `${answer.status} ${answer.text.replace(/exp=\d+&sig=[\w-]+/g, 'exp&sig')}`;
  }
  for (const path of bytePaths) {
    const reply = await send('GET', { path, expect: {} }, alice.accessToken);
    reads[path] = `${reply.status} ${createHash('sha256').update(reply.bytes).digest('hex')}`;
  }
  const head = await send('HEAD', { path: `/v1/uploads/${f.openUpload}`, headers: TUS, expect: {} }, alice.accessToken);
  reads['HEAD upload'] = `${head.status} offset ${head.headers.get('upload-offset')}`;
  return reads;
}

// ---------------------------------------------------------------------------------------------

const aliceBefore = await aliceReads(fixtures);

describe('authorization matrix', () => {
  test('every route in the table has a case or a stated exemption', () => {
    const uncovered = routes.filter((route) => caseOf(route) === undefined && exemptionOf(route) === undefined).map((route) => route.key);
    assert.deepEqual(uncovered, [], 'add a case to CASES (or, with its reason, to EXEMPT) for each of these routes');
    const known = new Set(routes.map((route) => route.key));
    const stale = [...Object.keys(CASES), ...Object.keys(EXEMPT)].filter((key) => !known.has(key));
    assert.deepEqual(stale, [], 'cases for routes that no longer exist');
  });

  for (const route of routes) {
    const routeCase = caseOf(route);
    if (routeCase === undefined) continue;
    test(route.key, async () => {
      const attempts = routeCase(fixtures);
      assert.ok(attempts.length > 0, 'a case makes at least one attempt');
      if (route.params.length > 0) {
        assert.ok(attempts.every((attempt) => attempt.expect.stranger !== undefined), 'every attempt on an id says what a second user gets');
      }
      if (!route.readsToken || route.signInOptional) {
        assert.ok(attempts.every((attempt) => attempt.expect.anonymous !== undefined), 'a route open to anyone says what anyone gets');
      }
      // Every attempt runs, so one known failure does not hide the others.
      const failures: string[] = [];
      for (const attempt of attempts) {
        for (const [actor, expected] of expectationsOf(route, attempt)) {
          const reply = await send(route.method, attempt, tokens[actor]);
          try {
            checkReply(route, attempt, actor, expected, reply);
          } catch (error) {
            failures.push(error instanceof Error ? error.message : String(error));
          } finally {
            await expected.undo?.();
          }
        }
      }
      assert.deepEqual(failures, []);
    });
  }

  test("a protected route turns an anonymous caller away before it reads their input", async () => {
    const refusedLate: string[] = [];
    for (const route of routes) {
      const attempt = caseOf(route)?.(fixtures)[0];
      if (attempt === undefined || !route.readsToken || route.signInOptional || (!route.takesJson && !route.takesQuery)) continue;
      const bad: Attempt = route.takesJson ? { ...attempt, body: { zz_not_a_field: true } } : attempt;
      const path = route.takesQuery ? `${attempt.path}${attempt.path.includes('?') ? '&' : '?'}zz_not_a_field=1` : attempt.path;
      const reply = await send(route.method, bad, undefined, path);
      if (reply.status !== 401) refusedLate.push(`${route.key}: ${reply.status}`);
    }
    assert.deepEqual(refusedLate, [], 'API.md: a missing token on a protected route is 401, whatever else is wrong');
  });

  test('a route open to anyone turns a bad token away before it reads the input', async () => {
    const refusedLate: string[] = [];
    for (const route of routes) {
      const attempt = caseOf(route)?.(fixtures)[0];
      if (attempt === undefined || !route.readsToken || !route.signInOptional || !route.takesQuery) continue;
      const path = `${attempt.path}${attempt.path.includes('?') ? '&' : '?'}zz_not_a_field=1`;
      const reply = await send(route.method, attempt, tokens.malformed, path);
      if (reply.status !== 401) refusedLate.push(`${route.key}: ${reply.status}`);
    }
    assert.deepEqual(refusedLate, [], 'a token, when sent, is checked first: 401 whatever else is wrong');
  });

  test("after every attempt, all that Alice has reads as it did", async () => {
    // What others did and undid (a like, a follow) has reached her notifications, and left them.
    await testApp.deps.outbox.drained(10_000);
    assert.deepEqual(await aliceReads(fixtures), aliceBefore);
  });
});
