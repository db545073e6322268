import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
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

  it('runs the background work in serve unless WORKERS=0, which needs the PostgreSQL and Redis a worker shares', () => {
    assert.equal(loadConfig({ DATA_DIR: dataDir }).backgroundWork, true);
    const shared = { DATA_DIR: dataDir, DATABASE_URL: 'postgres://db.internal/plaza', REDIS_URL: 'redis://cache.internal', JWT_SECRET: 'a'.repeat(32) };
    assert.equal(loadConfig({ ...shared, WORKERS: '0' }).backgroundWork, false);
    for (const missing of ['DATABASE_URL', 'REDIS_URL'] as const) {
      const { [missing]: _left, ...env } = shared;
      assert.throws(
        () => loadConfig({ ...env, WORKERS: '0' }),
        (error: unknown) => error instanceof ConfigError && /WORKERS=0 leaves the jobs and the outbox to `plaza worker` processes/.test(error.message),
      );
    }
    assert.throws(() => loadConfig({ ...shared, WORKERS: '2' }), (error: unknown) => error instanceof ConfigError && /WORKERS/.test(error.message));
  });

  it('takes a cache Redis for home feeds only beside REDIS_URL', () => {
    const shared = { DATA_DIR: dataDir, DATABASE_URL: 'postgres://db.internal/plaza', JWT_SECRET: 'a'.repeat(32) };
    assert.equal(loadConfig({ ...shared, REDIS_URL: 'redis://jobs', REDIS_CACHE_URL: 'redis://cache' }).redisCacheUrl, 'redis://cache');
    assert.throws(() => loadConfig({ ...shared, REDIS_CACHE_URL: 'redis://cache' }), (error: unknown) => error instanceof ConfigError && /REDIS_CACHE_URL .*set REDIS_URL too/.test(error.message));
    assert.throws(() => loadConfig({ ...shared, REDIS_URL: 'redis://jobs', REDIS_CACHE_URL: 'http://cache' }), (error: unknown) => error instanceof ConfigError && /REDIS_CACHE_URL must be a redis:/.test(error.message));
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
    assert.equal(defaults.media.resumableMaxOpenPerUser, 20);
    const tuned = loadConfig({
      DATA_DIR: dataDir,
      PUBLIC_URL: 'https://api.example.com/',
      MEDIA_MAX_IMAGE_BYTES: '1000',
      MEDIA_QUOTA_BYTES: '5000',
      SIGNED_URL_TTL: '600',
      UPLOAD_MAX_OPEN_PER_USER: '3',
      MEDIA_SWEEP_GRACE: '0',
    });
    assert.equal(tuned.publicUrl, 'https://api.example.com', 'no trailing slash');
    assert.equal(tuned.media.maxBytes.image, 1000);
    assert.equal(tuned.media.quotaBytes, 5000);
    assert.equal(tuned.media.signedUrlTtlSeconds, 600);
    assert.equal(tuned.media.sweepGraceSeconds, 0);
    assert.equal(tuned.media.resumableMaxOpenPerUser, 3);
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

  it('bounds password hashing below libuv\'s thread pool, and reads the abuse limits', () => {
    const defaults = loadConfig({ DATA_DIR: dataDir });
    assert.deepEqual(defaults.passwordHashing, { concurrency: 2, queueLimit: 64 });
    assert.equal(defaults.authRateLimit.reconfirmPerSession, 10);
    assert.equal(defaults.rateLimitMaxKeys, 100_000);
    assert.equal(loadConfig({ DATA_DIR: dataDir, UV_THREADPOOL_SIZE: '16' }).passwordHashing.concurrency, 8);
    assert.equal(loadConfig({ DATA_DIR: dataDir, UV_THREADPOOL_SIZE: '1' }).passwordHashing.concurrency, 1);
    assert.throws(
      () => loadConfig({ DATA_DIR: dataDir, PASSWORD_HASH_CONCURRENCY: '4' }),
      (error: unknown) => error instanceof ConfigError && /PASSWORD_HASH_CONCURRENCY .*at most 3/.test(error.message),
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

  it('chooses the log format by LOG_FORMAT, or by the terminal when it is auto or unset', () => {
    assert.equal(loadConfig({ DATA_DIR: dataDir }).logFormat, 'auto');
    for (const format of ['auto', 'json', 'pretty']) assert.equal(loadConfig({ DATA_DIR: dataDir, LOG_FORMAT: format }).logFormat, format);
    assert.throws(
      () => loadConfig({ DATA_DIR: dataDir, LOG_FORMAT: 'yaml' }),
      (error: unknown) => error instanceof ConfigError && error.problems.includes('LOG_FORMAT must be one of auto, json, pretty (got "yaml")'),
    );
  });

  it('reads lists and numbers', () => {
    const config = loadConfig({
      DATA_DIR: dataDir,
      PORT: '9000',
      CORS_ORIGINS: ' https://a.example ,https://b.example,',
      TRUST_PROXY: '2',
      JWT_SECRET: 's'.repeat(40),
    });
    assert.equal(config.port, 9000);
    assert.deepEqual(config.corsOrigins, ['https://a.example', 'https://b.example']);
    assert.equal(config.trustProxy, 2);
    assert.equal(config.jwtSecret, 's'.repeat(40));
  });

  it('trusts no proxy by default, a hop count, or listed proxies', () => {
    assert.equal(loadConfig({ DATA_DIR: dataDir }).trustProxy, false);
    for (const off of ['false', '0', 'off']) assert.equal(loadConfig({ DATA_DIR: dataDir, TRUST_PROXY: off }).trustProxy, false);
    assert.equal(loadConfig({ DATA_DIR: dataDir, TRUST_PROXY: '1' }).trustProxy, 1);
    const listed = loadConfig({ DATA_DIR: dataDir, TRUST_PROXY: 'loopback, 10.0.0.0/8,192.0.2.7, fd00::/8, ::1' });
    assert.deepEqual(listed.trustProxy, ['loopback', '10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1']);
  });

  it('refuses TRUST_PROXY=true, saying what to write instead', () => {
    for (const value of ['true', 'TRUE', 'yes']) {
      assert.throws(
        () => loadConfig({ DATA_DIR: dataDir, TRUST_PROXY: value }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.length === 1 &&
          /TRUST_PROXY=true .*X-Forwarded-For a client writes.*number of proxies.*addresses/.test(error.message),
      );
    }
  });

  it('checks every address and range of TRUST_PROXY and METRICS_ALLOW, all at once', () => {
    try {
      loadConfig({
        DATA_DIR: dataDir,
        TRUST_PROXY: '10.0.0.0/33, nginx.internal, 10.0.0.1',
        METRICS_ALLOW: '192.0.2.0/24, 2001:db8::/129, 300.1.1.1, 10.0.0.0/8/8',
        METRICS_TOKEN: 'short',
      });
      assert.fail('should have thrown');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      for (const wrong of ['10.0.0.0/33', 'nginx.internal', '2001:db8::/129', '300.1.1.1', '10.0.0.0/8/8']) {
        assert.ok(error.problems.some((problem) => problem.includes(`"${wrong}" is not an IP address or CIDR range`)), wrong);
      }
      assert.ok(error.problems.some((problem) => /METRICS_TOKEN must be at least 16 characters/.test(problem)));
      assert.equal(error.problems.length, 6);
    }
    const metrics = loadConfig({ DATA_DIR: dataDir, METRICS_ALLOW: '192.0.2.0/24,2001:db8::1', METRICS_TOKEN: 't'.repeat(16) }).metrics;
    assert.deepEqual(metrics, { allow: ['192.0.2.0/24', '2001:db8::1'], token: 't'.repeat(16) });
    assert.deepEqual(loadConfig({ DATA_DIR: dataDir }).metrics, { allow: [], token: undefined });
  });

  it('bounds every stage of a connection, with defaults', () => {
    assert.deepEqual(loadConfig({ DATA_DIR: dataDir }).connections, {
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      idleTimeoutMs: 60_000,
      keepAliveTimeoutMs: 72_000,
      maxConnections: 1000,
      lingerTimeoutMs: 5_000,
      lingerMaxBytes: 16 * 2 ** 20,
    });
    const tuned = loadConfig({ DATA_DIR: dataDir, HEADERS_TIMEOUT_MS: '500', REQUEST_TIMEOUT_MS: '500', MAX_CONNECTIONS: '10' }).connections;
    assert.equal(tuned.requestTimeoutMs, 500);
    assert.equal(tuned.maxConnections, 10);
    assert.throws(
      () => loadConfig({ DATA_DIR: dataDir, HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '1000', IDLE_TIMEOUT_MS: '0' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.length === 2 &&
        /REQUEST_TIMEOUT_MS must be at least HEADERS_TIMEOUT_MS/.test(error.message) &&
        /IDLE_TIMEOUT_MS/.test(error.message),
    );
  });
  it('turns social providers on only when configured', () => {
    const none = loadConfig({ DATA_DIR: dataDir }).social;
    assert.deepEqual(none.providers, []);
    assert.deepEqual(none.redirectAllowlist, []);
    assert.equal(none.providerTimeoutMs, 5000);
    assert.equal(none.jwksRefreshCooldownSeconds, 30);

    const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const social = loadConfig({
      DATA_DIR: dataDir,
      AUTH_GOOGLE_CLIENT_ID: 'web.apps.googleusercontent.com',
      AUTH_GOOGLE_CLIENT_SECRET: 'g-secret',
      AUTH_GOOGLE_AUDIENCES: 'ios.apps.googleusercontent.com, android.apps.googleusercontent.com',
      AUTH_APPLE_CLIENT_ID: 'com.example.plaza',
      AUTH_APPLE_TEAM_ID: 'TEAM123456',
      AUTH_APPLE_KEY_ID: 'KEY1234567',
      // One-line variables carry the PEM's line breaks as \n.
      AUTH_APPLE_PRIVATE_KEY: appleKey.replace(/\n/g, '\\n'),
      AUTH_KAKAO_CLIENT_ID: 'kakao-rest-key',
      AUTH_NAVER_CLIENT_ID: 'naver-id',
      AUTH_NAVER_CLIENT_SECRET: 'naver-secret',
      AUTH_OIDC_PROVIDERS: 'Keycloak, auth0',
      AUTH_OIDC_KEYCLOAK_ISSUER: 'https://sso.example.com/realms/plaza',
      AUTH_OIDC_KEYCLOAK_CLIENT_ID: 'plaza',
      AUTH_OIDC_KEYCLOAK_CLIENT_SECRET: 'kc-secret',
      AUTH_OIDC_KEYCLOAK_NAME: 'Example SSO',
      AUTH_OIDC_AUTH0_ISSUER: 'https://tenant.auth0.com/',
      AUTH_OIDC_AUTH0_CLIENT_ID: 'a0',
      AUTH_OIDC_AUTH0_CLIENT_SECRET: 'a0-secret',
      AUTH_REDIRECT_ALLOWLIST: 'https://app.example.com/auth/, com.example.plaza:/oauth',
      PUBLIC_URL: 'https://api.example.com',
    }).social;
    assert.deepEqual(social.providers.map((provider) => [provider.id, provider.name, provider.verifies, provider.issuer]), [
      ['google', 'Google', 'id_token', 'https://accounts.google.com'],
      ['apple', 'Apple', 'id_token', 'https://appleid.apple.com'],
      ['kakao', 'Kakao', 'id_token', 'https://kauth.kakao.com'],
      ['naver', 'Naver', 'access_token', undefined],
      ['keycloak', 'Example SSO', 'id_token', 'https://sso.example.com/realms/plaza'],
      ['auth0', 'auth0', 'id_token', 'https://tenant.auth0.com/'],
    ]);
    const [google, apple, kakao] = social.providers;
    assert.deepEqual(google?.audiences, ['web.apps.googleusercontent.com', 'ios.apps.googleusercontent.com', 'android.apps.googleusercontent.com']);
    assert.equal(google?.hashedNonce, false);
    assert.equal(apple?.hashedNonce, true);
    assert.equal(apple?.apple?.privateKey, appleKey, 'the \\n escapes are line breaks again');
    assert.equal(kakao?.clientSecret, undefined, "Kakao's client secret is optional");
    // The web sign-in's endpoints of a provider without a discovery document are its real ones (AUTH_NAVER_OAUTH_URL changes their base).
    assert.deepEqual(social.providers[3]?.oauth, { authorization: 'https://nid.naver.com/oauth2.0/authorize', token: 'https://nid.naver.com/oauth2.0/token' });
    assert.equal(google?.oauth, undefined, 'an issuer lists its own');
    assert.deepEqual(social.redirectAllowlist, ['https://app.example.com/auth/', 'com.example.plaza:/oauth']);
  });

  it('points a provider at another https issuer, and refuses any other scheme', () => {
    const google = { AUTH_GOOGLE_CLIENT_ID: 'id', AUTH_GOOGLE_CLIENT_SECRET: 'secret' };
    const local = loadConfig({ DATA_DIR: dataDir, ...google, AUTH_GOOGLE_ISSUER: 'https://127.0.0.1:8443' });
    assert.equal(local.social.providers[0]?.issuer, 'https://127.0.0.1:8443');
    try {
      loadConfig({
        DATA_DIR: dataDir,
        ...google,
        AUTH_GOOGLE_ISSUER: 'http://127.0.0.1:8080',
        AUTH_OIDC_PROVIDERS: 'corp',
        AUTH_OIDC_CORP_ISSUER: 'https://sso.example.com/?realm=x',
        AUTH_OIDC_CORP_CLIENT_ID: 'plaza',
        AUTH_OIDC_CORP_CLIENT_SECRET: 'secret',
      });
      assert.fail('should have thrown');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'AUTH_GOOGLE_ISSUER must be an https:// URL without query or fragment (got "http://127.0.0.1:8080")',
        'AUTH_OIDC_CORP_ISSUER must be an https:// URL without query or fragment (got "https://sso.example.com/?realm=x")',
      ]);
    }
  });

  it('names every missing or stray setting of a half-configured provider, one line each', () => {
    try {
      loadConfig({
        DATA_DIR: dataDir,
        AUTH_GOOGLE_CLIENT_ID: 'id-without-secret',
        AUTH_FACEBOOK_CLIENT_SECRET: 'secret-without-id',
        AUTH_GITHUB_AUDIENCES: 'stray',
        AUTH_APPLE_CLIENT_ID: 'com.example.plaza',
        AUTH_APPLE_TEAM_ID: 'TEAM123456',
        AUTH_APPLE_PRIVATE_KEY: 'not a key',
        AUTH_OIDC_PROVIDERS: 'corp,google,bad-name,other',
        AUTH_OIDC_CORP_CLIENT_ID: 'plaza',
        AUTH_OIDC_OTHER_ISSUER: 'https://other.example',
        AUTH_REDIRECT_ALLOWLIST: 'https://, not a url',
      });
      assert.fail('should have thrown');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'AUTH_GOOGLE_CLIENT_SECRET is required with AUTH_GOOGLE_CLIENT_ID (the web sign-in\'s code exchange sends it)',
        'AUTH_APPLE_PRIVATE_KEY must be the .p8 key Apple gave (a PEM "BEGIN PRIVATE KEY" block of an EC P-256 key)',
        'AUTH_APPLE_KEY_ID is required with AUTH_APPLE_CLIENT_ID (Sign in with Apple\'s client secret is made from it)',
        'AUTH_FACEBOOK_CLIENT_SECRET is set but AUTH_FACEBOOK_CLIENT_ID is not: set the client id to turn Facebook sign-in on, or unset AUTH_FACEBOOK_CLIENT_SECRET',
        'AUTH_GITHUB_AUDIENCES is set but AUTH_GITHUB_CLIENT_ID is not: set the client id to turn GitHub sign-in on, or unset AUTH_GITHUB_AUDIENCES',
        'AUTH_OIDC_CORP_ISSUER is required: "corp" is listed in AUTH_OIDC_PROVIDERS',
        'AUTH_OIDC_CORP_CLIENT_SECRET is required with AUTH_OIDC_CORP_CLIENT_ID (the web sign-in\'s code exchange sends it)',
        'AUTH_OIDC_PROVIDERS: "google" is taken (by a built-in provider, password, or an earlier entry)',
        'AUTH_OIDC_PROVIDERS: "bad-name" must be a letter then up to 31 letters, digits or _ (it becomes the provider\'s id)',
        'AUTH_OIDC_OTHER_CLIENT_ID is required: "other" is listed in AUTH_OIDC_PROVIDERS',
        'AUTH_REDIRECT_ALLOWLIST: "https://" is not a URL prefix (e.g. https://app.example.com/auth/ or com.example.app:/oauth)',
        'AUTH_REDIRECT_ALLOWLIST: "not a url" is not a URL prefix (e.g. https://app.example.com/auth/ or com.example.app:/oauth)',
        'PUBLIC_URL is required with AUTH_REDIRECT_ALLOWLIST (providers send the web sign-in back to PUBLIC_URL/v1/auth/oauth/{provider}/callback)',
      ]);
    }
  });
});

describe('configuration of access-token providers', () => {
  const builtIns = {
    AUTH_FACEBOOK_CLIENT_ID: '998877665544',
    AUTH_FACEBOOK_CLIENT_SECRET: 'fb-secret',
    AUTH_KAKAO_CLIENT_ID: 'kakao-rest-key',
    AUTH_NAVER_CLIENT_ID: 'naver-id',
    AUTH_NAVER_CLIENT_SECRET: 'naver-secret',
    AUTH_GITHUB_CLIENT_ID: 'gh-id',
    AUTH_GITHUB_CLIENT_SECRET: 'gh-secret',
  };

  it("checks access tokens at each provider's API; Kakao's only with its app id", () => {
    const idOnly = loadConfig({ DATA_DIR: dataDir, ...builtIns }).social.providers;
    assert.deepEqual(idOnly.map((provider) => [provider.id, provider.api, provider.appId]), [
      ['facebook', 'https://graph.facebook.com', undefined],
      ['kakao', undefined, undefined],
      ['naver', 'https://openapi.naver.com', undefined],
      ['github', 'https://api.github.com', undefined],
    ]);
    const kakao = loadConfig({ DATA_DIR: dataDir, ...builtIns, AUTH_KAKAO_APP_ID: '1234567' }).social.providers.find((provider) => provider.id === 'kakao');
    assert.equal(kakao?.api, 'https://kapi.kakao.com');
    assert.equal(kakao?.appId, '1234567');
    assert.equal(kakao?.issuer, 'https://kauth.kakao.com', 'its ID tokens are still verified');
  });

  it('points the APIs at other https URLs (without a trailing slash), and refuses anything else', () => {
    const local = loadConfig({ DATA_DIR: dataDir, ...builtIns, AUTH_NAVER_API_URL: 'https://127.0.0.1:8443/naver/', AUTH_GITHUB_API_URL: 'https://ghe.example.com/api/v3' });
    const apis = Object.fromEntries(local.social.providers.map((provider) => [provider.id, provider.api]));
    assert.equal(apis.naver, 'https://127.0.0.1:8443/naver');
    assert.equal(apis.github, 'https://ghe.example.com/api/v3');
    try {
      loadConfig({ DATA_DIR: dataDir, ...builtIns, AUTH_FACEBOOK_API_URL: 'http://graph.facebook.com', AUTH_KAKAO_APP_ID: 'kakao-rest-key' });
      assert.fail('should have thrown');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'AUTH_FACEBOOK_API_URL must be an https:// URL without query or fragment (got "http://graph.facebook.com")',
        'AUTH_KAKAO_APP_ID must be the numeric app id of Kakao\'s developer console (got "kakao-rest-key")',
      ]);
    }
  });

  it('names an API URL or app id set for a provider that is off', () => {
    try {
      loadConfig({ DATA_DIR: dataDir, AUTH_NAVER_API_URL: 'https://127.0.0.1:8443', AUTH_KAKAO_APP_ID: '1234567', AUTH_GOOGLE_API_URL: 'ignored: Google has none' });
      assert.fail('should have thrown');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [
        'AUTH_KAKAO_APP_ID is set but AUTH_KAKAO_CLIENT_ID is not: set the client id to turn Kakao sign-in on, or unset AUTH_KAKAO_APP_ID',
        'AUTH_NAVER_API_URL is set but AUTH_NAVER_CLIENT_ID is not: set the client id to turn Naver sign-in on, or unset AUTH_NAVER_API_URL',
      ]);
    }
  });
});
