/** Resident memory and CPU time of a server process, read from Linux's /proc. */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

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

/** The fields of /proc/<pid>/stat after the command name, which may hold spaces and parentheses. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * User plus system CPU time process `pid` has used so far, in seconds (its threads included); with
 * `reapedChildren`, also that of its children that have ended and been waited for.
 */
export function cpuSeconds(pid: number, { reapedChildren = false } = {}): number {
  const fields = statFields(pid);
  // utime, stime, cutime and cstime are fields 14 to 17 of the whole line, 12 to 15 after the command name.
  const own = Number(fields[11]) + Number(fields[12]);
  return (reapedChildren ? own + Number(fields[13]) + Number(fields[14]) : own) / CLOCK_TICKS;
}

/** A live process: its pid, parent and command name (`comm`, at most 15 characters). */
export type ProcessEntry = { pid: number; parent: number; name: string };

/** Every process /proc shows now. */
export function listProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const pid = Number(name);
      entries.push({ pid, parent: Number(statFields(pid)[1]), name: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() });
    } catch {
      // the process ended while we looked
    }
  }
  return entries;
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

/** Local ports of the TCP connections processes `pids` hold to `remotePort` (IPv4 and IPv6). */
export function localPortsTo(pids: readonly number[], remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // the process ended
    }
    for (const fd of fds) {
      try {
        const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (socket !== null) inodes.add(socket[1]!);
      } catch {
        // the descriptor closed while we looked
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[] = [];
    try {
      lines = readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue; // no IPv6
    }
    for (const line of lines) {
      // local_address, rem_address (hex ip:port), then the inode in the tenth column.
      const columns = line.trim().split(/\s+/);
      if (columns.length < 10 || !inodes.has(columns[9]!)) continue;
      const port = (address: string) => parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      if (port(columns[2]!) === remotePort) ports.add(port(columns[1]!));
    }
  }
  return ports;
}

/** The machine's busy CPU time so far (every core, all but idle and iowait), in seconds. */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLOCK_TICKS;
}
