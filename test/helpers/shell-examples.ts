import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../..');

/** The address the examples are written for; runs point it at the app under test. */
const DOCUMENTED_ORIGIN = 'http://127.0.0.1:8080';
/** `# → 201` after a request: the status it answers. */
const EXPECTED_STATUS = /# → (\d{3})\b/g;
/** What the `curl` wrapper below writes to stderr after each request. */
const ANSWERED_STATUS = /^HTTP (\d{3})$/gm;

/** The ```sh blocks of a Markdown file, in order. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
}

/** The targets of a Markdown file's links outside code: `[text](target)`, `[name]: target` and `<https://…>`. */
export function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
  return [
    ...prose.matchAll(/\]\(([^)\s]+)\)/g),
    ...prose.matchAll(/^\[[^\]]+\]:\s*(\S+)/gm),
    ...prose.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]+)>/gi),
  ].map((match) => match[1] ?? '');
}

/** The anchors of a Markdown file's headings, as GitHub makes them (`## Behind a proxy` → `behind-a-proxy`). */
export function headingAnchors(markdown: string): Set<string> {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return new Set(
    [...prose.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      (match[1] ?? '').trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'),
    ),
  );
}

/** What is wrong with a relative link from `fromFile` (a missing file, or heading), or undefined when it leads somewhere. */
export function brokenRelativeLink(target: string, fromFile: string): string | undefined {
  const [path = '', anchor] = target.split('#');
  const file = path === '' ? fromFile : resolve(dirname(fromFile), path);
  if (!existsSync(file)) return `${target}: no such file in the repository`;
  if (anchor !== undefined && file.endsWith('.md') && !headingAnchors(readFileSync(file, 'utf8')).has(anchor)) {
    return `${target}: no such heading`;
  }
  return undefined;
}

/**
 * Runs `blocks` in one bash process, as a reader pasting them one after the other would, against
 * `origin`, in a fresh directory. Every request's status is compared with the `# → NNN` comments,
 * in order (repeats in a row count once, so a polling loop is one comment); the script must exit 0.
 */
export async function runExamples(blocks: string[], origin: string, timeoutMs = 60_000): Promise<string> {
  const source = blocks.join('\n').replaceAll(DOCUMENTED_ORIGIN, origin);
  const expected = collapse([...source.matchAll(EXPECTED_STATUS)].map((match) => Number(match[1])));
  assert.ok(expected.length > 0, 'the examples state no status to check');
  const workDir = mkdtempSync(join(tmpdir(), 'plaza-examples-'));
  const script = join(workDir, 'examples.sh');
  writeFileSync(
    script,
    [
      'set -euo pipefail',
      // Each request also reports its status on stderr, leaving stdout to what the example captures.
      `curl() { command curl -w '%{stderr}HTTP %{http_code}\\n' "$@"; }`,
      source,
    ].join('\n'),
  );
  try {
    const { code, stdout, stderr } = await run('bash', [script], {
      cwd: workDir,
      // The Node that runs the tests, and the repository's packages (sharp) for the examples that make sample files.
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NODE_PATH: join(repoRoot, 'node_modules') },
      timeoutMs,
    });
    const answered = collapse([...stderr.matchAll(ANSWERED_STATUS)].map((match) => Number(match[1])));
    const context = `\n--- stdout ---\n${stdout.slice(-3000)}\n--- stderr ---\n${stderr.slice(-3000)}`;
    assert.equal(code, 0, `the examples failed${context}`);
    assert.deepEqual(answered, expected, `statuses answered vs. documented${context}`);
    return stdout;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

function collapse(statuses: number[]): number[] {
  return statuses.filter((status, i) => status !== statuses[i - 1]);
}

function run(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export function readRepoFile(path: string): string {
  return readFileSync(join(repoRoot, path), 'utf8');
}
