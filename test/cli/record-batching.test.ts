// x86ft record batches log entries into frames of up to RECORD_FLUSH_MS (50 ms) of wall time: a CPU-bound
// guest's recording writes at most one frame per 50 ms of its run (plus full batches and the start/end
// frames), not one per turn of the event loop. The bound is in the run's own measured wall time, so a
// slow or loaded machine widens it; the log still replays.
import { describe, it, expect } from 'vitest';
import { spawnAsync } from '../helpers/proc.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_FLUSH_MS } from '../../src/cli/record.js';

const x86ft = (...args: string[]) => spawnAsync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', timeout: 120_000 });

describe('record: log batching', () => {
  it(`writes at most one batch frame per ${RECORD_FLUSH_MS} ms of the run (plus full batches), and the log replays`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-batch-'));
    try {
      const log = join(dir, 'i.log');
      const r = await x86ft('record', 'guests/build/intloop-O2.elf', '--log', log, '--no-input', '--cmdline', '1500000', '--stats', '--json');
      expect(r.status, r.stderr).toBe(31); // intloop exits with its result's low bits
      const s = JSON.parse(r.stderr.trimEnd().split('\n').at(-1) as string) as { wallSeconds: number; logs: { entries: number }[] };
      const inspect = await x86ft('log', 'inspect', log);
      expect(inspect.status, inspect.stderr).toBe(0);
      const m = /entries:\s+(\d+) in (\d+) batch frame/.exec(inspect.stdout);
      expect(m, inspect.stdout).not.toBeNull();
      const entries = Number(m![1]), frames = Number(m![2]);
      expect(entries).toBe(s.logs[0].entries);
      expect(entries).toBeGreaterThan(20); // polls, digests: enough entries that per-turn frames would show
      // the run's wall time includes start-up; every timer-cut frame is at least RECORD_FLUSH_MS after its first entry
      expect(frames).toBeLessThanOrEqual(Math.ceil((s.wallSeconds * 1000) / RECORD_FLUSH_MS) + Math.ceil(entries / 1024) + 2);
      const rep = await x86ft('replay', log, '--image', 'guests/build/intloop-O2.elf');
      expect(rep.status, rep.stderr).toBe(0);
      expect(rep.stdout).toContain('replay identical');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  }, 240_000);
});
