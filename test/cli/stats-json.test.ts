// x86ft run/record --stats --json: one JSON line on stderr after the guest's own output, with the count the
// plain --stats prints; --json without --stats is a usage error.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const x86ft = (...args: string[]) => spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', timeout: 60_000 });

describe('--stats --json', () => {
  it('run: the last stderr line is {instructions, wallSeconds, mips}; the same count as plain --stats', () => {
    const j = x86ft('run', 'guests/build/hello-O2.elf', '--stats', '--json');
    const p = x86ft('run', 'guests/build/hello-O2.elf', '--stats');
    expect(j.status).toBe(42);
    const line = j.stderr.trimEnd().split('\n').at(-1) as string;
    const s = JSON.parse(line) as { instructions: number; wallSeconds: number; mips: number };
    expect(Object.keys(s)).toEqual(['instructions', 'wallSeconds', 'mips']);
    expect(p.stderr).toContain(`instructions: ${s.instructions}\n`); // a deterministic guest: the same count
    expect(s.wallSeconds).toBeGreaterThan(0);
  });

  it('record: adds the log volume, equal to the log file written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-stats-'));
    try {
      const log = join(dir, 'h.log');
      const r = x86ft('record', 'guests/build/hello-O2.elf', '--log', log, '--stats', '--json');
      expect(r.status).toBe(42);
      const s = JSON.parse(r.stderr.trimEnd().split('\n').at(-1) as string) as { logs: { bytes: number; entries: number; digests: number }[] };
      expect(s.logs).toHaveLength(1);
      expect(s.logs[0].bytes).toBe(statSync(log).size);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('--json without --stats is a usage error (status 2, one line)', () => {
    const r = x86ft('run', 'guests/build/hello-O2.elf', '--json');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("x86ft run: --json goes with --stats; see 'x86ft run --help'\n");
  });
});
