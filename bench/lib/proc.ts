/** Resident memory and CPU time of a server process, read from Linux's /proc. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const SAMPLE_EVERY_MS = 50;

/** The pid of this process's child running `script` (servers.ts keeps its children to itself). */
export function childRunning(script: string): number {
  const matches: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command name in field 2 may hold spaces and parentheses: fields after it follow the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== process.pid) continue;
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (args.includes(script)) matches.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  if (matches.length !== 1) throw new Error(`expected one child process running ${script}, found ${matches.length}`);
  return matches[0]!;
}

/** Clock ticks per second in /proc/<pid>/stat: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/** User plus system CPU time process `pid` has used so far, in seconds (its threads included). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** VmRSS and VmHWM (peak resident set since start or since the last reset), in bytes. */
export function residentBytes(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match === null) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]) * 1024;
  };
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

export type MemoryGrowth = {
  /** Resident set just before `body` started. */
  beforeBytes: number;
  /** Highest resident set while `body` ran: VmHWM after a reset, or the highest 50 ms sample. */
  peakBytes: number;
  growthBytes: number;
};

/**
 * Runs `body` while watching process `pid`'s resident memory: VmHWM is reset first (clear_refs 5),
 * so it catches peaks between samples; VmRSS is also sampled every 50 ms in case the reset is refused.
 */
export async function watchMemory<T>(pid: number, body: () => Promise<T>): Promise<{ result: T } & MemoryGrowth> {
  const beforeBytes = residentBytes(pid).rss;
  let peakReset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    peakReset = false;
  }
  let sampledPeak = beforeBytes;
  const sample = () => {
    try {
      sampledPeak = Math.max(sampledPeak, residentBytes(pid).rss);
    } catch {
      // the process is gone; body will say why
    }
  };
  const timer = setInterval(sample, SAMPLE_EVERY_MS);
  try {
    const result = await body();
    sample();
    const peakBytes = peakReset ? Math.max(sampledPeak, residentBytes(pid).peak) : sampledPeak;
    return { result, beforeBytes, peakBytes, growthBytes: peakBytes - beforeBytes };
  } finally {
    clearInterval(timer);
  }
}
