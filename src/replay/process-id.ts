// Which process wrote a log: host name, pid and the process's start time, so that a follower on the
// same host can tell the recorder from a later process that was given the same pid (pid reuse).

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LogRecorder } from './format.js';

/**
 * The start time of process `pid`: field 22 of /proc/PID/stat (proc(5): `starttime`, clock ticks
 * after system boot). Undefined where there is no /proc or the process does not exist.
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // fields after the command name, which is in parentheses and may contain spaces: field 3 first
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(f[22 - 3]);
    return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** This process as a log header's `recorder`: host name, pid and (where /proc exists) start time. */
export function thisRecorder(): LogRecorder {
  const startTime = processStartTime(process.pid);
  return { host: hostname() || 'localhost', pid: process.pid, ...(startTime === undefined ? {} : { startTime }) };
}

/**
 * Whether process `pid` on this host exists (running or stopped; a zombie, which has ended, does not).
 * Uses kill(pid, 0) and, where there is a /proc, the process state. With `startTime` (a recorder's
 * header field), a process with that pid but another start time is a different process: not alive.
 */
export function processAlive(pid: number, startTime?: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return true; // no /proc: kill(pid, 0) said it exists
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X') return false;
  return startTime === undefined || processStartTime(pid) === startTime;
}
