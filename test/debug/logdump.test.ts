// `x86ft log dump` and `x86ft log diff` on real recordings: the dump lists as many entries as `log inspect`
// counts, filters by kind and icount, prints JSON lines; diff does not compare the recorder's wall clock
// (start time, heartbeats), finds two recordings of the same guest first differ in the RTC base the guest
// reads (and, ignoring the host clocks, where one ended), a copy is identical, and a cut copy ends early.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const GUEST = 'guests/build/recursion-O0.elf';
const x86ft = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('log dump / log diff', () => {
  it('dumps every entry, filters, and finds the first difference', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-logdump-'));
    const a = join(dir, 'a.log'), b = join(dir, 'b.log'), c = join(dir, 'c.log'), cut = join(dir, 'cut.log');
    expect(x86ft('record', GUEST, '--log', a, '--digest-every', '1M').status).toBe(67);
    // b: the same guest recorded again, only its start
    expect(x86ft('record', GUEST, '--log', b, '--max-instructions', '100000').status).toBe(124);
    const total = Number(/entries:\s+(\d+)/.exec(x86ft('log', 'inspect', a).stdout)![1]);
    const d = x86ft('log', 'dump', a);
    expect(d.status).toBe(0);
    const lines = d.stdout.trim().split('\n');
    expect(lines.length).toBe(total);
    expect(lines.every((l) => /^@\d+ [a-z-]+/.test(l))).toBe(true);
    const j = x86ft('log', 'dump', a, '--json', '--kind', 'digest', '--from', '1000000', '--to', '3000000');
    const objs = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(objs.length).toBeGreaterThan(0);
    expect(objs.every((o) => o.kind === 'digest' && o.icount >= 1_000_000 && o.icount <= 3_000_000)).toBe(true);
    expect(x86ft('log', 'dump', a, '--kind', 'nope').status).toBe(2);
    copyFileSync(a, c);
    const same = x86ft('log', 'diff', a, c);
    expect(same.status).toBe(0);
    const heartbeats = d.stdout.split('\n').filter((l) => / heartbeat /.test(l)).length;
    expect(same.stdout).toBe(`identical: ${total - heartbeats} entries (heartbeats and the start time, the recorder's wall clock, not compared)\n`);
    // the recorder's start time never reaches the guest: not a difference; the RTC's base the guest reads is
    const diff = x86ft('log', 'diff', a, b);
    expect(diff.status).toBe(8);
    expect(diff.stdout).toMatch(/^first difference at entry 1 of those compared \(.*: entry 1, .*: entry 1\):\n.*@0 rtc epochMs=\d+\n.*@0 rtc epochMs=\d+\n\(a host clock reading the guest got: .*--ignore rtc compares without it\)\n$/);
    // without the host clocks, the two recordings differ where b's budget ended it
    const rest = x86ft('log', 'diff', a, b, '--ignore', 'rtc', '--ignore', 'host-time', '--ignore', 'digest', '--ignore', 'digest-detail');
    expect(rest.status).toBe(8);
    expect(rest.stdout).toMatch(/: @100000 end reason="budget"/);
    const bytes = readFileSync(a);
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    const r = x86ft('log', 'diff', a, cut);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(cut);
  }, 120_000);
});
