// `x86ft replay` writes the guest's console, and nothing else, on stderr unless it fails: tools
// compare it byte for byte with what the recording printed. Checked for a plain replay, a follower
// running beside the recorder, a replay stopped early (--stop-at), and a run split at a snapshot.
import { describe, it, expect } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, guestElf } from '../devices-guests/helpers.js';

const x86ft = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { timeout: 120_000 });

describe('replay: stderr is exactly the guest console', () => {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-stderr-'));
  const elf = guestElf('sort');
  const log = join(dir, 'a.log');
  const rec = x86ft(['record', elf, '--log', log, '--digest-every', '100k']);

  it('a plain replay', () => {
    expect(rec.status).toBe(0);
    expect(rec.stdout.length).toBeGreaterThan(100);
    const r = x86ft(['replay', log, '--image', elf]);
    expect(r.stdout.toString()).toMatch(/replay identical/);
    expect(r.stderr.equals(rec.stdout)).toBe(true);
  });

  it('a follower replaying while the recorder writes', async () => {
    const live = join(dir, 'live.log');
    const f = spawn(process.execPath, [CLI, 'replay', live, '--follow', '--image', elf], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    f.stdout.on('data', (d: Buffer) => out.push(d));
    f.stderr.on('data', (d: Buffer) => err.push(d));
    const done = new Promise<number>((r) => f.on('close', (c) => r(c ?? -1)));
    const r2 = await new Promise<Buffer>((res) => {
      const c = spawn(process.execPath, [CLI, 'record', elf, '--log', live], { stdio: ['ignore', 'pipe', 'ignore'] });
      const o: Buffer[] = [];
      c.stdout.on('data', (d: Buffer) => o.push(d));
      c.on('close', () => res(Buffer.concat(o)));
    });
    expect(await done).toBe(0);
    expect(Buffer.concat(out).toString()).toMatch(/replay identical/);
    expect(Buffer.concat(err).equals(r2)).toBe(true);
  }, 120_000);

  it('a replay stopped early (--stop-at, status 6) prints a prefix of the console', () => {
    const r = x86ft(['replay', log, '--image', elf, '--stop-at', '300000']);
    expect(r.status).toBe(6);
    expect(r.stderr.length).toBeGreaterThan(0);
    expect(rec.stdout.subarray(0, r.stderr.length).equals(r.stderr)).toBe(true);
  });

  it('a run split at a snapshot: the two replays print the console in two parts', () => {
    const l1 = join(dir, 'b1.log'), l2 = join(dir, 'b2.log'), snap = join(dir, 'b.snap');
    const r = x86ft(['record', elf, '--log', l1, '--snapshot-at', '400000', '--snapshot-out', snap, '--log2', l2]);
    expect(r.status).toBe(0);
    const a = x86ft(['replay', l1, '--image', elf]);
    const b = x86ft(['replay', l2, '--image', elf, '--snapshot', snap]);
    expect(a.stdout.toString()).toMatch(/replay identical/);
    expect(b.stdout.toString()).toMatch(/replay identical/);
    expect(Buffer.concat([a.stderr, b.stderr]).equals(r.stdout)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
