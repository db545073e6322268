import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'plaza-config-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

describe('configuration', () => {
  it('has working defaults for the embedded profile', () => {
    const config = loadConfig({ DATA_DIR: dataDir });
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.accessTokenTtlSeconds, 900);
    assert.deepEqual(config.corsOrigins, []);
    assert.ok(Object.isFrozen(config));
  });

  it('generates the JWT secret once and keeps it under DATA_DIR', () => {
    const first = loadConfig({ DATA_DIR: dataDir });
    const second = loadConfig({ DATA_DIR: dataDir });
    assert.ok(first.jwtSecret.length >= 32);
    assert.equal(first.jwtSecret, second.jwtSecret);
    assert.equal(readFileSync(join(dataDir, 'jwt-secret'), 'utf8'), first.jwtSecret);
    assert.equal(statSync(join(dataDir, 'jwt-secret')).mode & 0o777, 0o600);
  });

  it('requires JWT_SECRET in production', () => {
    assert.throws(
      () => loadConfig({ DATA_DIR: dataDir, DATABASE_URL: 'postgres://db.internal/plaza' }),
      (error: unknown) => error instanceof ConfigError && /JWT_SECRET is required/.test(error.message),
    );
  });

  it('reports every bad value at once, by name', () => {
    try {
      loadConfig({
        DATA_DIR: dataDir,
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        JWT_SECRET: 'short',
        DATABASE_URL: 'mysql://nope',
        TRUST_PROXY: 'maybe',
        CORS_ORIGINS: 'https://ok.example, not a url',
        ACCESS_TOKEN_TTL: '5',
      });
      assert.fail('should have thrown');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      const names = ['PORT', 'LOG_LEVEL', 'JWT_SECRET', 'DATABASE_URL', 'TRUST_PROXY', 'CORS_ORIGINS', 'ACCESS_TOKEN_TTL'];
      for (const name of names) assert.match(error.message, new RegExp(name));
      assert.equal(error.problems.length, names.length);
    }
  });

  it('reads media limits, links and clean-up settings', () => {
    const defaults = loadConfig({ DATA_DIR: dataDir });
    assert.equal(defaults.publicUrl, '');
    assert.deepEqual(defaults.media.maxBytes, { image: 50 * 2 ** 20, audio: 2 ** 30, video: 2 ** 31 });
    assert.equal(defaults.media.resumableMaxBytes, 2 ** 31);
    const tuned = loadConfig({
      DATA_DIR: dataDir,
      PUBLIC_URL: 'https://api.example.com/',
      MEDIA_MAX_IMAGE_BYTES: '1000',
      MEDIA_QUOTA_BYTES: '5000',
      SIGNED_URL_TTL: '600',
      MEDIA_SWEEP_GRACE: '0',
    });
    assert.equal(tuned.publicUrl, 'https://api.example.com', 'no trailing slash');
    assert.equal(tuned.media.maxBytes.image, 1000);
    assert.equal(tuned.media.quotaBytes, 5000);
    assert.equal(tuned.media.signedUrlTtlSeconds, 600);
    assert.equal(tuned.media.sweepGraceSeconds, 0);
    assert.throws(
      () => loadConfig({ DATA_DIR: dataDir, PUBLIC_URL: 'ftp://x', MEDIA_MAX_VIDEO_BYTES: '-1', SIGNED_URL_TTL: '5' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.length === 3 &&
        /PUBLIC_URL/.test(error.message) &&
        /MEDIA_MAX_VIDEO_BYTES/.test(error.message) &&
        /SIGNED_URL_TTL/.test(error.message),
    );
  });

  it('turns on Redis and S3 only when configured, and checks their settings', () => {
    const embedded = loadConfig({ DATA_DIR: dataDir });
    assert.equal(embedded.redisUrl, undefined);
    assert.equal(embedded.s3, undefined);
    const scaled = loadConfig({
      DATA_DIR: dataDir,
      REDIS_URL: 'redis://cache.internal:6379',
      S3_BUCKET: 'media',
      S3_ENDPOINT: 'http://minio.internal:9000',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
      S3_REDIRECT_DOWNLOADS: 'yes',
    });
    assert.equal(scaled.redisUrl, 'redis://cache.internal:6379');
    assert.deepEqual(scaled.s3, {
      bucket: 'media',
      region: 'us-east-1',
      endpoint: 'http://minio.internal:9000',
      credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
      forcePathStyle: true,
      redirectDownloads: true,
    });
    assert.throws(
      () => loadConfig({ DATA_DIR: dataDir, REDIS_URL: 'http://cache', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'only-half' }),
      (error: unknown) =>
        error instanceof ConfigError && /REDIS_URL/.test(error.message) && /S3_SECRET_ACCESS_KEY/.test(error.message),
    );
  });

  it('reads lists and numbers', () => {
    const config = loadConfig({
      DATA_DIR: dataDir,
      PORT: '9000',
      CORS_ORIGINS: ' https://a.example ,https://b.example,',
      TRUST_PROXY: 'true',
      JWT_SECRET: 's'.repeat(40),
    });
    assert.equal(config.port, 9000);
    assert.deepEqual(config.corsOrigins, ['https://a.example', 'https://b.example']);
    assert.equal(config.trustProxy, true);
    assert.equal(config.jwtSecret, 's'.repeat(40));
  });
});
