import { spawn } from 'node:child_process';
import { access, chmod, constants, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { MediaProcessingError } from './errors.ts';

/** Paths of the ffmpeg and ffprobe executables; processing needs both or neither. */
export type FfmpegTools = { ffmpeg: string; ffprobe: string };

/**
 * Finds ffmpeg and ffprobe: `FFMPEG_PATH`/`FFPROBE_PATH` when set (and only there), else the binaries
 * that `npm ci` brought (`bundled`), else on `PATH`. Undefined when either is missing: audio then gets
 * no waveform and video no metadata or poster, rather than failing.
 */
export async function findFfmpeg(env: NodeJS.ProcessEnv, bundled = bundledFfmpeg()): Promise<FfmpegTools | undefined> {
  const ffmpeg = await findExecutable('ffmpeg', env.FFMPEG_PATH, bundled.ffmpeg, env.PATH);
  const ffprobe = await findExecutable('ffprobe', env.FFPROBE_PATH, bundled.ffprobe, env.PATH);
  return ffmpeg && ffprobe ? { ffmpeg, ffprobe } : undefined;
}

/**
 * The binaries inside `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`, each through its
 * platform's optional package; missing where npm had none for this platform (the packages then throw).
 */
export function bundledFfmpeg(): Partial<FfmpegTools> {
  return { ffmpeg: installerPath('@ffmpeg-installer/ffmpeg'), ffprobe: installerPath('@ffprobe-installer/ffprobe') };
}

const requirePackage = createRequire(import.meta.url);

function installerPath(name: string): string | undefined {
  try {
    return (requirePackage(name) as { path: string }).path;
  } catch {
    return undefined;
  }
}

async function findExecutable(name: string, explicit: string | undefined, bundled: string | undefined, searchPath = ''): Promise<string | undefined> {
  if (explicit) return (await isExecutable(explicit)) ? explicit : undefined;
  if (bundled !== undefined && ((await isExecutable(bundled)) || (await makeExecutable(bundled)))) return bundled;
  for (const dir of searchPath.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * What the platform packages' `postinstall` (`chmod u+x`) does, for installs that skipped it:
 * `--ignore-scripts`, or an npm that runs only the install scripts `allowScripts` lists.
 */
async function makeExecutable(path: string): Promise<boolean> {
  try {
    await chmod(path, (await stat(path)).mode | 0o100);
    return await isExecutable(path);
  } catch {
    return false;
  }
}

/**
 * Arguments that go before every input: quiet, and only the demuxers of the containers Plaza accepts
 * reading only local files — so a crafted upload cannot make ffmpeg open a playlist that fetches URLs
 * or other local files.
 */
export const INPUT_ARGS = [
  '-hide_banner', '-loglevel', 'error',
  '-protocol_whitelist', 'file',
  '-format_whitelist', 'mov,matroska,mp3,aac,ogg,wav,flac',
];

type RunOptions = {
  timeoutMs: number;
  /** Receives standard output as it comes; without it, standard output is collected and returned. */
  onStdout?: (chunk: Buffer) => void;
  /** Largest standard output collected; more kills the process. */
  maxOutputBytes?: number;
};

const STDERR_TAIL_BYTES = 2048;

/**
 * Runs a tool with an argument array (no shell), killing it when it outlives `timeoutMs` or writes too
 * much. A non-zero exit, a timeout or a failed callback rejects with a MediaProcessingError; a
 * process that could not start or was killed by someone else rejects with a plain Error.
 */
export function runTool(command: string, args: string[], options: RunOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collected: Buffer[] = [];
    let collectedBytes = 0;
    let stderrTail = '';
    let failure: Error | undefined;
    const fail = (error: Error) => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => fail(new MediaProcessingError(`${command} took longer than ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return;
      try {
        if (options.onStdout) return options.onStdout(chunk);
        collected.push(chunk);
        collectedBytes += chunk.length;
        if (collectedBytes > (options.maxOutputBytes ?? Infinity)) fail(new MediaProcessingError(`${command} wrote too much output`));
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) return reject(failure);
      // Killed from outside (out of memory, shutdown): not the file's fault, so worth retrying.
      if (code === null) return reject(new Error(`${command} was killed by ${signal}`));
      if (code !== 0) return reject(new MediaProcessingError(`${command} failed: ${lastLines(stderrTail) || `exit code ${code}`}`));
      resolve(Buffer.concat(collected));
    });
  });
}

/** The cause is often on the line before the final "Invalid data" or "Invalid argument". */
function lastLines(text: string): string {
  return text.trim().split('\n').slice(-2).join(' / ');
}
