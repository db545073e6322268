import { fileURLToPath } from 'node:url';
import { inParallel, requestJson } from './lib/http.ts';
import { emailOf, signUp, type SignedInUser } from './lib/plaza.ts';
import type { Scenario, Suite } from './lib/suite.ts';

const READER = 'memos-reader';
const WRITER = 'memos-writer';
const READER_MEMOS = 1_000;
/** 20 other users with 200 memos each, so the reader owns a fifth of the rows and an index must find them. */
const OTHER_USERS = 20;
/** Other users each write one memo per this many of the reader's, so their rows sit between the reader's. */
const OTHERS_WRITE_EVERY = 5;
const SEED_CONCURRENCY = 8;
const PAGE_SIZE = 20;
const FILLER =
  'Pick up the film from the lab, ask Ana about the Saturday market stall, and re-read chapter four before book club. ';

/**
 * Private memos: one user (the reader) pages through their memos among other users' memos; another
 * (the writer) writes new ones, which are deleted before every turn so all turns see the same data.
 */
export const memosSuite: Suite = {
  name: 'memos',
  baselineScript: fileURLToPath(new URL('./baselines/memos-server.ts', import.meta.url)),
  async seed(plazaUrl) {
    const labels = [READER, WRITER, ...Array.from({ length: OTHER_USERS }, (_, i) => `memos-other-${i}`)];
    const [reader, writer, ...others] = await inParallel(labels, 2, (label) => signUp(plazaUrl, label));
    await inParallel(seedMemos(reader!, others), SEED_CONCURRENCY, ({ author, text }) =>
      requestJson('POST', `${plazaUrl}/v1/memos`, { token: author.accessToken, body: { text } }),
    );
    await expectFullPage(plazaUrl, reader!);
    return scenarios(reader!, writer!);
  },
  resetSql: [`delete from memos where user_id = (select id from users where lower(email) = '${emailOf(WRITER)}')`],
};

type NewMemo = { author: SignedInUser; text: string };

/** The reader's memos with the other users' interleaved, in the order they are written. */
function seedMemos(reader: SignedInUser, others: readonly SignedInUser[]): NewMemo[] {
  const memos: NewMemo[] = [];
  for (let i = 0; i < READER_MEMOS; i++) {
    memos.push({ author: reader, text: memoText(i) });
    if (i % OTHERS_WRITE_EVERY === 0) memos.push(...others.map((author) => ({ author, text: memoText(i + 1) })));
  }
  return memos;
}

/** Texts of varied length (40–240 characters), like notes people write. */
function memoText(n: number): string {
  return `#${n} ${FILLER.repeat(3)}`.slice(0, 40 + ((n * 37) % 200));
}

async function expectFullPage(plazaUrl: string, reader: SignedInUser): Promise<void> {
  const page = await requestJson<{ items: unknown[] }>('GET', `${plazaUrl}/v1/memos?limit=${PAGE_SIZE}`, {
    token: reader.accessToken,
  });
  if (page.items.length !== PAGE_SIZE) throw new Error(`seeding left ${page.items.length} memos on the first page`);
}

/** Plaza should keep at least this share of the floor's throughput on PostgreSQL. */
const MEMOS_TARGET_RATIO = 0.6;

function scenarios(reader: SignedInUser, writer: SignedInUser): Scenario[] {
  const newMemo = JSON.stringify({ text: memoText(7) });
  const json = { 'content-type': 'application/json' };
  return [
    {
      name: `GET /v1/memos?limit=${PAGE_SIZE}`,
      plaza: { method: 'GET', path: `/v1/memos?limit=${PAGE_SIZE}`, headers: bearer(reader) },
      baseline: { method: 'GET', path: `/users/${reader.id}/memos` },
      target: MEMOS_TARGET_RATIO,
    },
    {
      name: 'POST /v1/memos',
      plaza: { method: 'POST', path: '/v1/memos', headers: { ...bearer(writer), ...json }, body: newMemo },
      baseline: { method: 'POST', path: `/users/${writer.id}/memos`, headers: json, body: newMemo },
      target: MEMOS_TARGET_RATIO,
    },
  ];
}

function bearer(user: SignedInUser): Record<string, string> {
  return { authorization: `Bearer ${user.accessToken}` };
}
