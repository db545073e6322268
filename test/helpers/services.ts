import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  paginateListObjectsV2,
  S3Client,
} from '@aws-sdk/client-s3';

/**
 * In the services run (REDIS_URL and S3_* set by `npm run test:services`), the variables that point a
 * test app at Redis and S3 — with a key prefix and a bucket of its own, so test files never see each
 * other's jobs or blobs. On the embedded run, nothing: the app uses its in-process queue and local files.
 */
export async function servicesForTestApp(): Promise<{ env: Record<string, string>; release(): Promise<void> }> {
  const env: Record<string, string> = {};
  const tag = randomBytes(6).toString('hex');
  const { REDIS_URL, S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } = process.env;
  if (REDIS_URL) Object.assign(env, { REDIS_URL, REDIS_PREFIX: `plaza-test-${tag}` });
  if (!S3_ENDPOINT || !S3_ACCESS_KEY_ID || !S3_SECRET_ACCESS_KEY) return { env, release: async () => {} };

  const bucket = `plaza-test-${tag}`;
  const client = new S3Client({
    endpoint: S3_ENDPOINT,
    region: S3_REGION ?? 'us-east-1',
    credentials: { accessKeyId: S3_ACCESS_KEY_ID, secretAccessKey: S3_SECRET_ACCESS_KEY },
    forcePathStyle: true,
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  Object.assign(env, {
    S3_BUCKET: bucket,
    S3_ENDPOINT,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    S3_FORCE_PATH_STYLE: 'true',
  });
  return {
    env,
    async release() {
      for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket })) {
        for (const object of page.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: object.Key }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}
