// Shared helpers of the device-guest tests: build a guest ELF (make, a no-op when up to date),
// spawn the CLI on it, collect its output.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli/main.js');

/** Path of guests/build/NAME-OPT.elf, built with make if needed. */
export function guestElf(name: string, opt: 'O0' | 'O2' = 'O2'): string {
  const rel = `build/${name}-${opt}.elf`;
  execFileSync('make', ['-s', '-C', join(ROOT, 'guests'), rel], { stdio: ['ignore', 'ignore', 'inherit'] });
  const p = join(ROOT, 'guests', rel);
  if (!existsSync(p)) throw new Error(`guest ${p} was not built`);
  return p;
}

export interface CliRun {
  child: ChildProcess;
  /** stdout so far (latin1). */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout contains `text` (rejects after timeoutMs or when the process ends first). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Exit code (signal -> -1). */
  done: Promise<number>;
}

/** Spawns `x86ft run <elf> ...args`; kills it after `killMs` (default 90 s) as a safety net. */
export function runCli(elf: string, args: string[] = [], killMs = 90_000): CliRun {
  const child = spawn(process.execPath, [CLI, 'run', elf, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => { out += d.toString('latin1'); for (const w of waiters.slice()) w(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString('latin1'); });
  const timer = setTimeout(() => child.kill('SIGKILL'), killMs);
  let ended = false;
  const done = new Promise<number>((res) => child.on('close', (code) => {
    ended = true; clearTimeout(timer); for (const w of waiters.slice()) w(); res(code ?? -1);
  }));
  const waitFor = (text: string | RegExp, timeoutMs = 60_000) => new Promise<void>((res, rej) => {
    const has = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
    const t = setTimeout(() => { off(); rej(new Error(`timed out waiting for ${text}; stdout: ${out}; stderr: ${err}`)); }, timeoutMs);
    const w = () => {
      if (has()) { off(); clearTimeout(t); res(); }
      else if (ended) { off(); clearTimeout(t); rej(new Error(`process ended before ${text}; stdout: ${out}; stderr: ${err}`)); }
    };
    const off = () => { const i = waiters.indexOf(w); if (i >= 0) waiters.splice(i, 1); };
    waiters.push(w);
    w();
  });
  return { child, stdout: () => out, stderr: () => err, waitFor, done };
}
