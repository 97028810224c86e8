// Shared by test/ft/netcut, net-failover and divergence tests: `x86ft ft primary` / `ft secondary` as
// real processes (optionally inside a network namespace: `ip netns exec`), the uninterrupted
// reference run of the deterministic disk guest dev_ftdisk, and the replay of a VM's generation
// logs as one chain (src/replay/chain.ts) with every console byte, frame and disk write observed,
// so a test can check FT.md "Generation logs": the chain reproduces the console file and the disk.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, guestElf } from '../devices-guests/helpers.js';
import { listGenerationLogs } from '../../src/ft/store.js';
import { chainLogs, fileLinks, type ChainInfo } from '../../src/replay/chain.js';
import { Replayer } from '../../src/replay/replayer.js';
import type { ReplayReport } from '../../src/replay/session.js';

export { CLI, guestElf };

/** dev_ftdisk's rounds in these tests, its disk size, and FT options: a failure timeout of 3 s
 *  (generous on a loaded machine, where a role can get no CPU for a second or two: a failover that
 *  nobody caused would fail these tests; they assert guarantees, never speed). */
export const ROUNDS = '150';
export const DISK = 64 * 512;
export const FAILURE_TIMEOUT_MS = 3000;
export const FT = ['--failure-timeout-ms', String(FAILURE_TIMEOUT_MS), '--heartbeat-ms', '100'];

export interface Role {
  child: ChildProcess;
  /** Exit status (-1: killed by a signal). */
  done: Promise<number>;
  err(): string;
}

/** Runs `x86ft ARGS…` (inside network namespace `netns` when given); stdout is discarded. */
export function role(args: string[], cwd: string, netns?: string): Role {
  const argv = netns ? ['ip', ['netns', 'exec', netns, process.execPath, CLI, ...args]] as const : [process.execPath, [CLI, ...args]] as const;
  const child = spawn(argv[0], [...argv[1]], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.resume();
  const done = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? -1 : -2))));
  return { child, done, err: () => err };
}

/** A fresh 0700 directory with an all-zero base disk image. */
export function caseDir(tag: string): { dir: string; base: string; ctl: string; consoleFile: string } {
  const dir = mkdtempSync(join(tmpdir(), `x86ft-${tag}-`));
  chmodSync(dir, 0o700);
  const base = join(dir, 'base.img');
  writeFileSync(base, new Uint8Array(0)); truncateSync(base, DISK);
  return { dir, base, ctl: join(dir, 'ctl'), consoleFile: join(dir, 'console') };
}

/** The uninterrupted run of dev_ftdisk: its console and disk. */
export async function ftdiskReference(): Promise<{ elf: string; console: Buffer; disk: Buffer }> {
  const elf = guestElf('dev_ftdisk');
  const { dir, base, consoleFile } = caseDir('ftref');
  const r = role(['run', elf, '--disk', base, '--cmdline', ROUNDS, '--mem', '32M', '--console', `file:${consoleFile}`, '--no-input'], dir);
  const status = await r.done;
  if (status !== 0) throw new Error(`reference run failed (${status}): ${r.err()}`);
  return { elf, console: readFileSync(consoleFile), disk: readFileSync(base) };
}

/** Resolves once `file` holds at least `n` bytes (or `enough()` says so), or `ended` settled first. */
export async function fileGrows(file: string, n: number, ended: Promise<unknown>, enough: () => boolean = () => false): Promise<void> {
  let over = false;
  void ended.then(() => { over = true; });
  while (!over && !(existsSync(file) && (statSync(file).size >= n || enough()))) await new Promise((r) => setTimeout(r, 20));
}

export interface ChainReplay {
  report: ReplayReport;
  info: ChainInfo;
  console: Buffer;
  /** The base image with every replayed disk write applied. */
  disk: Buffer;
  /** Frames the guest transmitted, per NIC, in order. */
  frames: Buffer[];
}

/** Replays STORE/vms/NAME/gen-<g>.log as one chain on `elf`, observing every output. */
export async function replayChain(store: string, vm: string, elf: string, base?: string): Promise<ChainReplay> {
  const logs = listGenerationLogs(store, vm).map((l) => l.path);
  const info: ChainInfo = { links: [] };
  const con: number[] = [];
  const disk = base ? Buffer.from(readFileSync(base)) : Buffer.alloc(0);
  const frames: Buffer[] = [];
  const r = new Replayer({
    image: new Uint8Array(readFileSync(elf)),
    consoleOut: (b) => con.push(b),
    diskWrite: (_d, offset, data) => disk.set(data, offset),
    netOut: (_nic, f) => frames.push(Buffer.from(f)),
  });
  const report = await r.replay(chainLogs(fileLinks(logs), info));
  return { report, info, console: Buffer.from(con), disk, frames };
}
