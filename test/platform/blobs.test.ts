import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3 } from '../../scripts/services/s3.ts';
import { BlobTooLargeError } from '../../src/platform/blobs/errors.ts';
import { LocalBlobStore } from '../../src/platform/blobs/local.ts';
import { openBlobStore } from '../../src/platform/blobs/open.ts';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/platform/blobs/s3.ts';
import type { BlobStore, ListedBlob } from '../../src/platform/blobs/types.ts';

/**
 * The blob store contract, held by the local directory store and the S3 store alike. The S3 store
 * runs against S3_ENDPOINT when set (the services run), otherwise against an s3rver started here;
 * either way in a bucket of its own.
 */
const MiB = 1024 * 1024;

const localDir = mkdtempSync(join(tmpdir(), 'plaza-blobs-'));
const s3 = await s3Bucket();
/** Each store, the temp files it has left, and a store of the same kind whose storage is gone. */
const implementations: [string, BlobStore, () => string[], () => Promise<BlobStore>][] = [
  ['local', await LocalBlobStore.open(localDir), () => readdirSync(join(localDir, '.tmp')), goneLocalStore],
  ['s3', new S3BlobStore({ ...s3.options, listPageSize: 10 }), () => [], async () => new S3BlobStore({ ...s3.options, bucket: `${s3.options.bucket}-gone` })],
];

after(async () => {
  for (const [, store] of implementations) await store.close();
  await s3.remove();
  rmSync(localDir, { recursive: true, force: true });
});

for (const [name, store, tempFiles, goneStore] of implementations) {
  describe(`blob store (${name})`, () => {
    /** Nothing readable under `key`, nothing listed under its prefix, no temp file left. */
    async function assertNoTrace(key: string) {
      assert.equal(await store.head(key), undefined);
      assert.equal(await store.get(key), undefined);
      assert.deepEqual(await keys(store, key), []);
      assert.deepEqual(tempFiles(), []);
    }

    it('answers ping while it can be written to, and fails it once its storage is gone', async () => {
      await store.ping();
      const gone = await goneStore();
      try {
        await assert.rejects(gone.ping());
      } finally {
        await gone.close();
      }
    });

    it('streams a multi-MiB body in and back out whole, up to exactly the limit', async () => {
      const size = 12 * MiB + 5; // several S3 parts, the last a short one
      assert.deepEqual(await store.put('roundtrip/big', patterned(size), { maxBytes: size }), { size });
      assert.equal((await store.head('roundtrip/big'))?.size, size);
      const blob = await store.get('roundtrip/big');
      assert.equal(blob?.size, size);
      assert.ok((await readAll(blob.body)).equals(pattern(0, size)), 'the bytes read are the bytes written');
    });

    it('refuses a body over the limit, leaving no trace of it', async () => {
      await assert.rejects(store.put('too-large/big', patterned(12 * MiB), { maxBytes: 11 * MiB }), BlobTooLargeError);
      await assertNoTrace('too-large/big');
      await assert.rejects(store.put('too-large/small', patterned(100), { maxBytes: 99 }), BlobTooLargeError);
      await assertNoTrace('too-large/small');
    });

    it('fails with the body’s own error when it breaks mid-way, leaving no trace', async () => {
      const body = failingAfter(6 * MiB, new Error('client went away'));
      await assert.rejects(store.put('broken/upload', body, { maxBytes: 100 * MiB }), /client went away/);
      assert.ok(body.destroyed);
      await assertNoTrace('broken/upload');
    });

    it('replaces a blob whole on a new put, and keeps it on a failed one', async () => {
      await store.put('replace/blob', patterned(10), { maxBytes: 10 });
      await assert.rejects(store.put('replace/blob', patterned(30), { maxBytes: 20 }), BlobTooLargeError);
      assert.equal((await store.head('replace/blob'))?.size, 10);
      await store.put('replace/blob', patterned(20), { maxBytes: 20 });
      const blob = await store.get('replace/blob');
      assert.ok(blob && (await readAll(blob.body)).equals(pattern(0, 20)));
    });

    it('stores an empty blob', async () => {
      assert.deepEqual(await store.put('empty/blob', patterned(0), { maxBytes: 0 }), { size: 0 });
      const blob = await store.get('empty/blob');
      assert.equal(blob?.size, 0);
      assert.equal((await readAll(blob.body)).length, 0);
      await assert.rejects(store.get('empty/blob', { start: 0, end: 0 }), RangeError);
    });

    it('reads byte ranges, clamping the end to the last byte', async () => {
      const size = 300_000;
      await store.put('ranges/blob', patterned(size), { maxBytes: size });
      for (const [start, end] of [
        [0, 0],
        [size - 1, size - 1],
        [1_000, 250_000],
      ] as const) {
        const blob = await store.get('ranges/blob', { start, end });
        assert.equal(blob?.size, size, 'size is the whole blob’s');
        assert.ok((await readAll(blob.body)).equals(pattern(start, end + 1)), `bytes ${start}-${end}`);
      }
      const tail = await store.get('ranges/blob', { start: size - 10, end: size + 100 });
      assert.ok(tail && (await readAll(tail.body)).equals(pattern(size - 10, size)));
      await assert.rejects(store.get('ranges/blob', { start: size, end: size + 1 }), RangeError);
      await assert.rejects(store.get('ranges/blob', { start: 5, end: 4 }), RangeError);
    });

    it('heads and deletes a blob, and deleting it again is no error', async () => {
      const before = Date.now();
      await store.put('lifecycle/blob', patterned(10), { maxBytes: 10, contentType: 'text/plain' });
      const info = await store.head('lifecycle/blob');
      assert.equal(info?.size, 10);
      assert.ok(Math.abs(info.modifiedAt.getTime() - before) < 60_000, 'modifiedAt is about now');
      await store.delete('lifecycle/blob');
      await assertNoTrace('lifecycle/blob');
      await store.delete('lifecycle/blob');
      assert.equal(await store.head('lifecycle/never'), undefined);
      assert.equal(await store.get('lifecycle/never', { start: 0, end: 0 }), undefined);
    });

    it('lists every blob under a prefix, across pages', async () => {
      const many = Array.from({ length: 45 }, (_, i) => `list/${String(i).padStart(4, '0')}/original`);
      await Promise.all(many.map((key) => store.put(key, patterned(3), { maxBytes: 3 })));
      await store.put('listed/a', patterned(1), { maxBytes: 1 });
      await store.put('listing', patterned(1), { maxBytes: 1 });
      assert.deepEqual(await keys(store, 'list/'), many);
      assert.deepEqual(await keys(store, 'listed'), ['listed/a']);
      assert.deepEqual(await keys(store, 'list/0007/'), ['list/0007/original']);
      assert.deepEqual(await keys(store, 'nothing-here/'), []);
      const [first] = await listed(store, 'list/0001/');
      assert.equal(first?.size, 3);
      assert.ok(first.modifiedAt instanceof Date);
    });

    it('stores concurrent puts to different keys, each whole', async () => {
      const sizes = Array.from({ length: 12 }, (_, i) => 100_000 + i * 7_919);
      await Promise.all(sizes.map((size, i) => store.put(`concurrent/${i}`, patterned(size), { maxBytes: size })));
      for (const [i, size] of sizes.entries()) {
        const blob = await store.get(`concurrent/${i}`);
        assert.ok(blob && (await readAll(blob.body)).equals(pattern(0, size)), `concurrent/${i}`);
      }
    });

    it('rejects malformed keys and prefixes', async () => {
      const badKeys = ['', '/abs', 'a//b', 'a/', '../x', 'a/../b', 'a/./b', '.tmp/x', 'a/.hidden', 'a\\b', 'a b', 'é', 'a\0b'];
      for (const key of [...badKeys, 'k'.repeat(1025)]) {
        await assert.rejects(store.put(key, patterned(1), { maxBytes: 1 }), TypeError, JSON.stringify(key));
        await assert.rejects(store.get(key), TypeError);
        await assert.rejects(store.head(key), TypeError);
        await assert.rejects(store.delete(key), TypeError);
      }
      for (const prefix of ['/', '../', 'a//', '.tmp/']) await assert.rejects(keys(store, prefix), TypeError);
    });
  });
}

describe('S3 blob store', () => {
  it('fails with S3’s error when the upload fails, small body or multipart', async () => {
    const store = new S3BlobStore({ ...s3.options, bucket: `${s3.options.bucket}-missing` });
    try {
      for (const size of [100, 12 * MiB]) {
        const body = patterned(size);
        await assert.rejects(store.put('missing/blob', body, { maxBytes: size }), { name: 'NoSuchBucket' });
        assert.ok(body.destroyed, `${size} bytes`);
      }
    } finally {
      await store.close();
    }
  });
});

describe('openBlobStore', () => {
  it('opens the S3 store when a bucket is configured, else the local one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plaza-blobs-'));
    try {
      const local = await openBlobStore({ localDir: dir });
      assert.ok(local instanceof LocalBlobStore);
      const remote = await openBlobStore({ localDir: dir, s3: s3.options });
      assert.ok(remote instanceof S3BlobStore);
      await Promise.all([local.close(), remote.close()]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('local blob store', () => {
  it('removes temp files that writes cut short by a crash left behind, and only those', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plaza-blobs-'));
    try {
      await LocalBlobStore.open(dir);
      writeFileSync(join(dir, '.tmp', 'crashed'), 'half');
      utimesSync(join(dir, '.tmp', 'crashed'), new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
      writeFileSync(join(dir, '.tmp', 'in-flight'), 'still writing');
      await LocalBlobStore.open(dir);
      assert.deepEqual(readdirSync(join(dir, '.tmp')), ['in-flight']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores a local file by hard link: no copy, within the limit, independent of the file afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plaza-blobs-'));
    try {
      const store = await LocalBlobStore.open(dir);
      const source = join(dir, 'finished-upload');
      const bytes = randomBytes(3000);
      writeFileSync(source, bytes);
      assert.deepEqual(await store.putLocalFile('media/u/one/original', source, { maxBytes: 3000 }), { size: 3000 });
      assert.equal(statSync(join(dir, 'media/u/one/original')).ino, statSync(source).ino, 'the same file, not a copy');
      rmSync(source);
      const stored = await store.get('media/u/one/original');
      assert.deepEqual(await buffer(stored!.body), bytes);

      writeFileSync(source, bytes);
      await assert.rejects(store.putLocalFile('media/u/two/original', source, { maxBytes: 2999 }), BlobTooLargeError);
      assert.equal(await store.head('media/u/two/original'), undefined);
      assert.deepEqual(readdirSync(join(dir, '.tmp')), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('removes directories a delete leaves empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plaza-blobs-'));
    try {
      const store = await LocalBlobStore.open(dir);
      await store.put('media/one/original', patterned(1), { maxBytes: 1 });
      await store.put('media/two/original', patterned(1), { maxBytes: 1 });
      await store.delete('media/one/original');
      assert.deepEqual(readdirSync(join(dir, 'media')), ['two']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A bucket of this run's own on the services' S3 server, or on an s3rver started for this file. */
async function s3Bucket(): Promise<{ options: S3BlobStoreOptions; remove(): Promise<void> }> {
  const service = process.env.S3_ENDPOINT ? undefined : await startS3(AbortSignal.timeout(30_000));
  const env = service?.env ?? process.env;
  const options: S3BlobStoreOptions = {
    bucket: `plaza-blobs-test-${randomBytes(6).toString('hex')}`,
    region: env.S3_REGION || 'us-east-1',
    endpoint: env.S3_ENDPOINT,
    credentials: env.S3_ACCESS_KEY_ID
      ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY ?? '' }
      : undefined,
    forcePathStyle: env.S3_FORCE_PATH_STYLE !== 'false',
  };
  const admin = new S3Client(options);
  await admin.send(new CreateBucketCommand({ Bucket: options.bucket }));
  return {
    options,
    async remove() {
      if (service === undefined) {
        const store = new S3BlobStore(options);
        for await (const blob of store.list('')) await store.delete(blob.key);
        await store.close();
        await admin.send(new DeleteBucketCommand({ Bucket: options.bucket }));
      }
      admin.destroy();
      await service?.stop();
    },
  };
}

/** A local store whose directory was removed after it opened (a volume unmounted, say). */
async function goneLocalStore(): Promise<BlobStore> {
  const dir = mkdtempSync(join(tmpdir(), 'plaza-blobs-gone-'));
  const store = await LocalBlobStore.open(dir);
  rmSync(dir, { recursive: true, force: true });
  return store;
}

/** Byte `i` of every test body: a pattern that differs at nearby offsets and is not a power of two. */
function pattern(start: number, end: number): Buffer {
  const bytes = Buffer.alloc(end - start);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (start + i) % 251;
  return bytes;
}

/** `size` bytes of the pattern, made as they are read (never held whole), in 64 KiB chunks. */
function patterned(size: number): Readable {
  return Readable.from(chunks(size), { objectMode: false });
}

function* chunks(size: number, chunkSize = 64 * 1024): Generator<Buffer> {
  for (let offset = 0; offset < size; offset += chunkSize) yield pattern(offset, Math.min(offset + chunkSize, size));
}

function failingAfter(size: number, error: Error): Readable {
  return Readable.from(
    (function* () {
      yield* chunks(size);
      throw error;
    })(),
    { objectMode: false },
  );
}

async function readAll(body: Readable): Promise<Buffer> {
  return Buffer.concat(await body.toArray());
}

async function listed(store: BlobStore, prefix: string): Promise<ListedBlob[]> {
  const blobs = [];
  for await (const blob of store.list(prefix)) blobs.push(blob);
  return blobs;
}

async function keys(store: BlobStore, prefix: string): Promise<string[]> {
  return (await listed(store, prefix)).map((blob) => blob.key).sort();
}
