import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config.ts';
import { repoRoot } from './helpers/shell-examples.ts';

/**
 * The Dockerfile, docker-compose.yml and the Helm chart, checked without a container engine (none
 * exists where the tests run): what can be parsed is parsed, the settings each one gives Plaza are
 * loaded through loadConfig, and docker-compose and helm themselves run when they are installed.
 */

const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');
const CHART = 'deploy/helm/plaza';
const APP_UID = '1000';
/** docker-compose's own copy of the Compose Specification schema (Debian's docker-compose package). */
const COMPOSE_SCHEMA = '/usr/lib/python3/dist-packages/compose/config/compose_spec.json';
/** Values the chart and compose leave to the operator, filled the way an operator would. */
const OPERATOR_SECRETS = { JWT_SECRET: 'x'.repeat(48) };

/** Every variable name src/config.ts reads. */
const CONFIG_NAMES = new Set([...read('src/config.ts').matchAll(/'([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1]!));

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

describe('the Dockerfile', () => {
  const text = read('Dockerfile');
  const instructions = DockerfileParser.parse(text).getInstructions();
  const named = (keyword: string) => instructions.filter((instruction) => instruction.getKeyword() === keyword);
  const lastFrom = text.lastIndexOf('\nFROM ');
  const runtimeStage = text.slice(lastFrom);

  it('has no problem dockerfile-utils finds', () => {
    assert.deepEqual(lintDockerfile(text).map((problem) => `line ${problem.range.start.line + 1}: ${problem.message}`), []);
  });

  it('builds in stages on Node 24 slim, installing only the production dependencies with npm ci', () => {
    assert.ok(named('FROM').length >= 2, 'multi-stage');
    assert.match(text, /^ARG NODE_IMAGE=node:24-slim$/m);
    for (const from of named('FROM')) assert.match(from.getTextContent(), /^FROM \$\{NODE_IMAGE\} AS \w+$/);
    assert.match(text, /RUN npm ci --omit=dev /);
    assert.match(runtimeStage, /COPY --from=dependencies \/app\/node_modules/);
  });

  it('runs as a non-root user, by number, with a health check and Plaza as its entry point', () => {
    assert.match(runtimeStage, new RegExp(`^USER ${APP_UID}:${APP_UID}$`, 'm'));
    assert.match(runtimeStage, /^HEALTHCHECK .*\n\s+CMD \["node", "deploy\/docker\/healthcheck\.ts", "\/healthz"\]$/m);
    assert.match(runtimeStage, /^ENTRYPOINT \["node", "src\/main\.ts"\]$/m);
    assert.match(runtimeStage, /^CMD \["serve"\]$/m);
    assert.match(runtimeStage, /HOST=0\.0\.0\.0/);
  });

  it('copies only files that exist and that .dockerignore lets into the build', () => {
    const admitted = read('.dockerignore').split('\n').filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
    const sources = named('COPY')
      .filter((copy) => !copy.getTextContent().includes('--from='))
      .map((copy) => copy.getArguments().map((argument) => argument.getValue()))
      .flatMap((args) => args.slice(0, -1));
    assert.ok(sources.length > 0);
    for (const source of sources) {
      assert.ok(existsSync(join(repoRoot, source)), `${source} exists`);
      assert.ok(admitted.some((entry) => source === entry || source.startsWith(`${entry}/`)), `${source} is admitted by .dockerignore`);
    }
  });
});

describe('the container health check', () => {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((request, response) => response.writeHead(request.url === '/healthz' ? 200 : 503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => server.close());

  // Not spawnSync: the server answering the check is in this process.
  const check = async (path: string, checkedPort: number) => {
    const child = spawn(process.execPath, ['deploy/docker/healthcheck.ts', path], { cwd: repoRoot, env: { PORT: String(checkedPort) }, stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    return code;
  };

  it('exits 0 on a 2xx and 1 on anything else, or when nothing answers', async () => {
    assert.equal(await check('/healthz', port), 0);
    assert.equal(await check('/readyz', port), 1);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    assert.equal(await check('/healthz', closedPort), 1);
  });
});

type ComposeService = {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  restart?: string;
  ports?: string[];
};

/** Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}` substitution, and `$$`. */
function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_match, name: string | undefined, kind, rest: string) => {
    if (name === undefined) return '$';
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (kind === '-') return rest;
    if (kind === '?') throw new Error(`${name}: ${rest}`);
    return '';
  });
}

describe('docker-compose.yml', () => {
  const raw = read('docker-compose.yml');
  const compose = parseYaml(interpolate(raw, OPERATOR_SECRETS), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;
  const apps = ['migrate', 'web-1', 'web-2', 'worker'];
  const webs = ['web-1', 'web-2'];

  it('parses, and stops at once without a JWT_SECRET', () => {
    assert.throws(() => interpolate(raw, {}), /JWT_SECRET/);
  });

  it('has the services of the services profile, with the app built from this repo', () => {
    assert.deepEqual(Object.keys(services).sort(), ['minio', 'minio-bucket', 'nginx', 'postgres', 'redis', ...apps].sort());
    for (const name of apps) {
      assert.equal(services[name]!.image, 'plaza:latest', name);
      assert.deepEqual(services[name]!.build, '.', name);
    }
    assert.deepEqual(services.migrate!.command, ['migrate']);
    for (const name of webs) assert.deepEqual(services[name]!.command, ['serve']);
    assert.deepEqual(services.worker!.command, ['worker']);
    assert.deepEqual(Object.keys(Object.fromEntries(Object.entries(services).filter(([, service]) => service.ports !== undefined))), ['nginx']);
  });

  it('checks the health of every long-running service, and one-shot services are not restarted', () => {
    const oneShot = ['migrate', 'minio-bucket'];
    for (const [name, service] of Object.entries(services)) {
      if (oneShot.includes(name)) {
        assert.equal(service.restart, 'no', name);
      } else if (name !== 'nginx' && name !== 'worker') {
        // The worker has the image's HEALTHCHECK (/healthz).
        assert.ok(service.healthcheck?.test !== undefined, `${name} has a healthcheck`);
      }
    }
    for (const name of webs) assert.deepEqual(services[name]!.healthcheck!.test, ['CMD', 'node', 'deploy/docker/healthcheck.ts', '/readyz']);
    assert.equal(services.redis!.healthcheck!.test![1], 'redis-cli');
  });

  it('starts each service after what it needs: healthy services, and finished one-shots', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [needed, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = services[needed];
        assert.ok(target !== undefined, `${name} depends on ${needed}, which exists`);
        if (condition === 'service_healthy') assert.ok(target.healthcheck?.test !== undefined || apps.includes(needed), `${needed} has a healthcheck`);
        else assert.equal(condition, 'service_completed_successfully', `${name} → ${needed}`);
        if (condition === 'service_completed_successfully') assert.equal(target.restart, 'no', `${needed} is a one-shot`);
      }
    }
    assert.equal(services.migrate!.depends_on!.postgres!.condition, 'service_healthy');
    for (const name of [...webs, 'worker']) assert.equal(services[name]!.depends_on!.migrate!.condition, 'service_completed_successfully');
    assert.deepEqual(Object.keys(services.nginx!.depends_on!).sort(), webs);
  });

  it('gives every app service a configuration loadConfig accepts, on the compose services', () => {
    for (const name of apps) {
      const environment = services[name]!.environment!;
      for (const variable of Object.keys(environment)) assert.ok(CONFIG_NAMES.has(variable), `${name}: ${variable} is a setting of src/config.ts`);
      const config = loadConfig({ ...environment, HOST: '0.0.0.0', DATA_DIR: '/var/lib/plaza' });
      assert.equal(new URL(config.databaseUrl!).hostname, 'postgres', name);
      assert.equal(new URL(config.redisUrl!).hostname, 'redis', name);
      assert.equal(new URL(config.s3!.endpoint!).hostname, 'minio', name);
      assert.equal(config.s3!.credentials!.secretAccessKey, services.minio!.environment!.MINIO_ROOT_PASSWORD, name);
      assert.equal(config.backgroundWork, !webs.includes(name), `${name}: WORKERS`);
      assert.equal(config.trustProxy, webs.includes(name) ? 1 : false, `${name}: TRUST_PROXY`);
    }
    assert.match(services['minio-bucket']!.entrypoint!.join(' '), /mc mb --ignore-existing plaza\/plaza$/);
    assert.equal(services.redis!.command!.join(' '), 'redis-server --maxmemory-policy noeviction --appendonly yes');
  });

  it("points the repo's nginx config at the web services, as nginx's command rewrites it", () => {
    const script = services.nginx!.command!.at(-1)!;
    const substitutions = [...script.matchAll(/-e 's(.)(.+?)\1(.*?)\1'/g)].map((match) => [match[2]!.replaceAll('\\.', '.'), match[3]!] as const);
    assert.equal(substitutions.length, 3);
    const rewritten = substitutions.reduce((conf, [from, to]) => conf.replace(from, to), read('deploy/nginx/plaza.conf'));
    const upstream = /upstream plaza \{([^}]*)\}/.exec(rewritten)![1]!;
    const servers = [...upstream.matchAll(/^\s*server (\S+)/gm)].map((match) => match[1]);
    assert.deepEqual(servers, webs.map((name) => `${name}:8080`));
    assert.match(rewritten, /access_log \/dev\/stdout plaza_without_query;/);
    assert.match(script, /> \/etc\/nginx\/conf\.d\/default\.conf/);
  });

  it('matches the Compose Specification schema', (t) => {
    if (!existsSync(COMPOSE_SCHEMA)) return t.skip(`no ${COMPOSE_SCHEMA} (apt-get install docker-compose brings it)`);
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // Its $schema names the draft by an address Ajv does not know it by (Ajv2019 is that draft), and
    // its ids are in draft-04's spelling, which Ajv refuses: neither changes what it validates.
    const withoutIds = (key: string, value: unknown) => (key === 'id' && typeof value === 'string' ? undefined : value);
    const { $schema: _draft, ...schema } = JSON.parse(readFileSync(COMPOSE_SCHEMA, 'utf8'), withoutIds);
    const valid = ajv.validate(schema, compose);
    assert.ok(valid, ajv.errorsText(ajv.errors));
  });

  it('is accepted by docker-compose config', (t) => {
    if (!onPath('docker-compose')) return t.skip('docker-compose is not installed (apt-get install docker-compose)');
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, ...OPERATOR_SECRETS },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
  });
});

describe('the Helm chart', () => {
  const chart = parseYaml(read(`${CHART}/Chart.yaml`)) as Record<string, string>;
  const values = parseYaml(read(`${CHART}/values.yaml`)) as Record<string, any>;
  const templateNames = readdirSync(join(repoRoot, CHART, 'templates'));
  const templates = Object.fromEntries(templateNames.map((name) => [name, read(`${CHART}/templates/${name}`)]));
  const all = Object.values(templates).join('\n');

  it('is a v2 application chart of the package version', () => {
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'plaza');
    assert.equal(chart.appVersion, JSON.parse(read('package.json')).version);
  });

  it('references only values that values.yaml has, and only templates it defines', () => {
    for (const [name, text] of Object.entries(templates)) {
      for (const [, path] of text.matchAll(/\.Values((?:\.\w+)+)/g)) {
        const found = path!.slice(1).split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], values);
        assert.notEqual(found, undefined, `${name}: .Values${path} is in values.yaml`);
      }
    }
    const defined = new Set([...all.matchAll(/\{\{-? define "([^"]+)"/g)].map((match) => match[1]));
    for (const [, used] of all.matchAll(/include "([^"]+)"/g)) assert.ok(defined.has(used), `${used} is defined`);
  });

  it('has balanced actions and blocks in every template', () => {
    for (const [name, text] of Object.entries(templates)) {
      assert.equal(text.split('{{').length, text.split('}}').length, `${name}: {{ and }}`);
      const actions = [...text.matchAll(/\{\{-?\s*(\w+)/g)].map((match) => match[1]);
      const opened = actions.filter((word) => ['if', 'range', 'with', 'define'].includes(word!)).length;
      assert.equal(opened, actions.filter((word) => word === 'end').length, `${name}: blocks and ends`);
    }
  });

  it('runs web instances without background work, a worker Deployment, and migrations as a hook', () => {
    const web = templates['deployment-web.yaml']!;
    assert.match(web, /args: \["serve"\]/);
    assert.match(web, /- name: WORKERS\n\s+value: "0"/);
    for (const probe of ['startupProbe', 'livenessProbe']) assert.match(web, new RegExp(`${probe}:\\n\\s+httpGet:\\n\\s+path: /healthz`));
    assert.match(web, /readinessProbe:\n\s+httpGet:\n\s+path: \/readyz/);
    assert.match(templates['deployment-worker.yaml']!, /kind: Deployment[\s\S]*args: \["worker"\][\s\S]*path: \/healthz/);
    const job = templates['job-migrate.yaml']!;
    assert.match(job, /kind: Job[\s\S]*helm\.sh\/hook: pre-install,pre-upgrade[\s\S]*args: \["migrate"\]/);
    // What the Job reads must exist before it: hooks of a lower weight.
    for (const name of ['configmap.yaml', 'secret.yaml']) assert.match(templates[name]!, /helm\.sh\/hook: pre-install,pre-upgrade\n\s+helm\.sh\/hook-weight: "-10"/);
    for (const name of ['deployment-web.yaml', 'deployment-worker.yaml', 'job-migrate.yaml']) {
      assert.match(templates[name]!, /resources:\n\s+\{\{- toYaml \.Values\.\w+\.resources/, `${name}: resources`);
      assert.match(templates[name]!, /securityContext:\n\s+\{\{- toYaml \.Values\.securityContext/, `${name}: securityContext`);
      assert.match(templates[name]!, /include "plaza\.scratchMounts"/, `${name}: scratch volumes`);
    }
    for (const component of ['web', 'worker', 'migration']) assert.ok(values[component].resources.requests.cpu && values[component].resources.requests.memory, component);
  });

  it('runs as the image user, non-root, on a read-only root file system', () => {
    assert.equal(values.podSecurityContext.runAsNonRoot, true);
    assert.equal(String(values.podSecurityContext.runAsUser), APP_UID);
    assert.equal(values.securityContext.readOnlyRootFilesystem, true);
    assert.equal(values.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(values.securityContext.capabilities.drop, ['ALL']);
    assert.match(templates['_helpers.tpl']!, /mountPath: \/var\/lib\/plaza\n\s+- name: tmp\n\s+mountPath: \/tmp/);
  });

  it('gives the pods a configuration loadConfig accepts', () => {
    const fixed = Object.fromEntries(
      [...templates['_helpers.tpl']!.matchAll(/- name: (\w+)\n\s+value: "?([^"\n]+)"?/g)].map((match) => [match[1]!, match[2]!]),
    );
    assert.deepEqual(Object.keys(fixed), ['HOST', 'PORT', 'DATA_DIR']);
    const secrets = { ...values.secret.values, DATABASE_URL: 'postgres://plaza@db/plaza', REDIS_URL: 'redis://redis:6379', ...OPERATOR_SECRETS };
    for (const name of [...Object.keys(values.config), ...Object.keys(secrets), ...Object.keys(fixed)]) {
      assert.ok(CONFIG_NAMES.has(name), `${name} is a setting of src/config.ts`);
    }
    // The ConfigMap carries every entry of `config`, empty ones too; the Secret leaves out empty S3 keys.
    const given = Object.fromEntries(Object.entries(secrets).filter(([, value]) => value !== '')) as Record<string, string>;
    const environment = { ...(values.config as Record<string, string>), ...given, ...fixed };
    const web = loadConfig({ ...environment, WORKERS: '0' });
    assert.equal(web.backgroundWork, false);
    assert.equal(web.port, 8080);
    assert.equal(loadConfig(environment).backgroundWork, true);
    const stopping = values.web.preStopSleepSeconds * 1000 + web.shutdownDrainMs + web.shutdownTimeoutMs;
    assert.ok(values.web.terminationGracePeriodSeconds * 1000 > stopping, 'the grace period covers preStop, the drain and the shutdown');
  });

  it('passes helm lint and renders with helm template', (t) => {
    if (!onPath('helm')) return t.skip('helm is not installed (neither npm nor Debian packages it)');
    const settings = ['--set', 'secret.values.DATABASE_URL=postgres://plaza@db/plaza', '--set', 'secret.values.REDIS_URL=redis://redis:6379', '--set', `secret.values.JWT_SECRET=${OPERATOR_SECRETS.JWT_SECRET}`];
    const output = mkdtempSync(join(tmpdir(), 'plaza-helm-'));
    try {
      for (const args of [['lint', '--strict', CHART, ...settings], ['template', 'plaza', CHART, '--output-dir', output, ...settings]]) {
        const result = spawnSync('helm', args, { cwd: repoRoot, encoding: 'utf8' });
        assert.equal(result.status, 0, `helm ${args[0]}: ${result.stdout}${result.stderr}`);
      }
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  });
});
