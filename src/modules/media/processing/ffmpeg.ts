import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { MediaProcessingError } from './errors.ts';

/** Paths of the ffmpeg and ffprobe executables; processing needs both or neither. */
export type FfmpegTools = { ffmpeg: string; ffprobe: string };

/**
 * Finds ffmpeg and ffprobe from `FFMPEG_PATH`/`FFPROBE_PATH`, else on `PATH`. Undefined when either is
 * missing: audio then gets no waveform and video no metadata or poster, rather than failing.
 */
export async function findFfmpeg(env: NodeJS.ProcessEnv): Promise<FfmpegTools | undefined> {
  const ffmpeg = await findExecutable('ffmpeg', env.FFMPEG_PATH, env.PATH);
  const ffprobe = await findExecutable('ffprobe', env.FFPROBE_PATH, env.PATH);
  return ffmpeg && ffprobe ? { ffmpeg, ffprobe } : undefined;
}

async function findExecutable(name: string, explicit: string | undefined, searchPath = ''): Promise<string | undefined> {
  const candidates = explicit ? [explicit] : searchPath.split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  for (const candidate of candidates) {
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
