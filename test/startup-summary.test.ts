import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startupSummary } from '../src/cli/startup-summary.ts';
import { loadConfig } from '../src/config.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'plaza-summary-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

describe('the start-up summary', () => {
  it('says where PostgreSQL, Redis and S3 are, and none of their credentials', async () => {
    const secrets = ['db-password', 'db-user', 'redis-password', 'secret-access-key', 'access-key-id', 'endpoint-password', 'a'.repeat(32)];
    const config = loadConfig({
      DATA_DIR: dataDir,
      DATABASE_URL: 'postgres://db-user:db-password@db.internal:6432/plaza%20prod?sslmode=require&password=db-password',
      DATABASE_SCHEMA: 'tenant_one',
      JWT_SECRET: 'a'.repeat(32),
      REDIS_URL: 'rediss://:redis-password@cache.internal',
      S3_BUCKET: 'media',
      S3_ENDPOINT: 'https://user:endpoint-password@minio.internal:9000/base',
      S3_ACCESS_KEY_ID: 'access-key-id',
      S3_SECRET_ACCESS_KEY: 'secret-access-key',
      PUBLIC_URL: 'https://plaza.example',
    });
    const { message, summary } = await startupSummary(config, { api: true, background: true }, undefined, 'http://0.0.0.0:8080');
    assert.deepEqual(summary, {
      database: 'PostgreSQL at db.internal:6432, database plaza prod, schema tenant_one',
      storage: 'S3 bucket media at https://minio.internal:9000',
      queue: 'BullMQ on Redis at cache.internal:6379',
      background: 'this process',
      ffmpeg: 'none',
      url: 'http://0.0.0.0:8080',
      docs: 'https://plaza.example/docs',
    });
    assert.match(message, /^Plaza \S+ is listening at http:\/\/0\.0\.0\.0:8080; API reference at https:\/\/plaza\.example\/docs$/);
    const said = JSON.stringify({ message, summary });
    for (const secret of secrets) assert.ok(!said.includes(secret), `${secret} is not said`);
  });

  it('names a PostgreSQL socket directory and the AWS region when no host or endpoint is given', async () => {
    const config = loadConfig({
      DATA_DIR: dataDir,
      DATABASE_URL: 'postgresql:///plaza?host=/var/run/postgresql',
      JWT_SECRET: 'a'.repeat(32),
      S3_BUCKET: 'media',
      S3_REGION: 'eu-west-3',
    });
    const { summary } = await startupSummary(config, { api: true, background: true }, undefined, 'http://127.0.0.1:8080');
    assert.equal(summary.database, 'PostgreSQL at /var/run/postgresql:5432, database plaza, schema public');
    assert.equal(summary.storage, 'S3 bucket media at AWS, eu-west-3');
    assert.equal(summary.queue, 'in-process');
    assert.equal(summary.docs, 'http://127.0.0.1:8080/docs');
  });

  it('says who runs the background work, and what a worker answers', async () => {
    const config = loadConfig({ DATA_DIR: dataDir, DATABASE_URL: 'postgres://db/plaza', REDIS_URL: 'redis://cache', JWT_SECRET: 'a'.repeat(32), WORKERS: '0' });
    const web = await startupSummary(config, { api: true, background: config.backgroundWork }, undefined, 'http://127.0.0.1:8080');
    assert.equal(web.summary.background, '`plaza worker` processes (WORKERS=0)');
    const worker = await startupSummary(config, { api: false, background: true }, undefined, 'http://127.0.0.1:8081');
    assert.equal(worker.summary.background, 'this process');
    assert.match(worker.message, /^Plaza \S+ worker is running; its health routes and \/metrics are at http:\/\/127\.0\.0\.1:8081$/);
  });
});
