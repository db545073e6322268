import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import webpush from 'web-push';
import { appPerFile } from './helpers/app.ts';
import { brokenRelativeLink, linkTargets, readRepoFile, repoRoot, runExamples, shellBlocks } from './helpers/shell-examples.ts';

const index = readRepoFile('docs/README.md');
/** The guide's pages in the order its index lists them: each page's examples build on the pages before. */
const pages = [...new Set(linkTargets(index).filter((target) => /^[\w-]+\.md$/.test(target)))];

describe('the API guide (docs/)', () => {
  test('lists every page in its index, and every relative link leads to a file of the repository', () => {
    const files = readdirSync(join(repoRoot, 'docs')).filter((name) => name.endsWith('.md') && name !== 'README.md');
    assert.deepEqual(files.sort(), [...pages].sort());
    const broken = ['README.md', ...pages].flatMap((page) =>
      linkTargets(readRepoFile(`docs/${page}`))
        .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
        .map((target) => brokenRelativeLink(target, join(repoRoot, 'docs', page)))
        .filter((problem) => problem !== undefined)
        .map((problem) => `docs/${page}: ${problem}`),
    );
    assert.deepEqual(broken, []);
  });

  // Web Push on (docs/push.md), with keys given, as several instances need them.
  const vapid = webpush.generateVAPIDKeys();
  const shared = appPerFile({ VAPID_SUBJECT: 'mailto:docs@plaza.social', VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey });
  for (const page of pages) {
    test(`docs/${page}: every example runs as written and answers the status it states`, async () => {
      const blocks = shellBlocks(readRepoFile(`docs/${page}`));
      assert.ok(blocks.length > 0, `docs/${page} has no sh examples`);
      await runExamples(blocks, shared.testApp.url);
    });
  }
});
