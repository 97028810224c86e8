// The replayer reports, never spins: a log record the replayed machine does not consume when it
// passes that record's point is a divergence reported at once (issue 8), for every synchronous
// kind (TSC, RDRAND, disk read, disk status), and a changed host time in a timer guest's log ends
// in a report, never in a replay that polls forever.
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeLog, encodeLog } from '../../src/replay/codec.js';
import type { LogEntry, LogHeader } from '../../src/replay/format.js';
import { guestFile, timerGuestSource } from './record-replay-guests.js';
import { recordGuest, replayBytes } from './record-replay-helpers.js';

let image: Uint8Array;
let entries: LogEntry[];
let header: LogHeader;

beforeAll(async () => {
  image = new Uint8Array(readFileSync(guestFile('timer', timerGuestSource(24, 1193, 40_000))));
  const rec = await recordGuest(image, { digestEvery: 100_000 });
  expect(rec.result.end).toBe('exit');
  ({ entries, header } = decodeLog(rec.log));
}, 60_000);

/** Insert `e` right before the poll unit that starts at the first host-time at or after `after`
 *  with no synchronous record between (the spot where the old replayer waited forever). */
function insertBeforePoll(es: LogEntry[], make: (icount: number) => LogEntry, after = 30_000): { log: LogEntry[]; at: number; poll: number } {
  for (let i = 1; i < es.length; i++) {
    const e = es[i]!;
    if (e.kind !== 'host-time' || e.icount < after) continue;
    let k = i;
    while (k > 0 && es[k - 1]!.icount === e.icount) k--; // start of that poll unit
    const prev = es[k - 1]!;
    if (prev.kind !== 'host-time' || prev.icount >= e.icount - 2) continue; // want a plain stretch of instructions
    const at = e.icount - 1;
    return { log: [...es.slice(0, k), make(at), ...es.slice(k)], at, poll: e.icount };
  }
  throw new Error('no poll unit found');
}

const withDisk = (h: LogHeader): LogHeader => {
  const d = h.devices as { disks: unknown[] };
  return { ...h, devices: { ...(h.devices as object), disks: [...d.disks, { sizeBytes: 1 << 20, readOnly: false }] } };
};

const SYNC: [string, (ic: number) => LogEntry][] = [
  ['tsc', (icount) => ({ icount, kind: 'tsc', payload: { lo: 12345, hi: 0 } })],
  ['rdrand', (icount) => ({ icount, kind: 'rdrand', payload: { size: 8, lo: 1, hi: 2, ok: true } })],
  ['disk-read', (icount) => ({ icount, kind: 'disk-read', payload: { device: 0, sector: 3, data: new Uint8Array(512) } })],
  ['disk-status (failed read)', (icount) => ({ icount, kind: 'disk-status', payload: { device: 0, op: 0, sector: 3, status: 1 } })],
  ['disk-status (write)', (icount) => ({ icount, kind: 'disk-status', payload: { device: 0, op: 1, sector: 3, status: 0 } })],
  ['disk-status (flush)', (icount) => ({ icount, kind: 'disk-status', payload: { device: 0, op: 2, sector: 0, status: 0 } })],
];

describe('a record the machine passes without consuming is a divergence at once', () => {
  for (const [name, make] of SYNC) {
    it(`${name}: reported at the next poll, naming the record`, async () => {
      const { log, at, poll } = insertBeforePoll(entries, make);
      // disk kinds need a disk in the configuration (the timer guest never touches it)
      const h = name.startsWith('disk') ? withDisk(header) : header;
      const r = (await replayBytes(encodeLog(h, log, 16), { image })).report;
      expect(r.outcome).toBe('divergence');
      expect(r.divergence!.kind).toBe('gate');
      expect(r.divergence!.icount).toBe(poll);
      expect(r.divergence!.message).toContain(`at icount ${at}`);
      expect(r.divergence!.message).toContain('has not asked for');
    }, 30_000);
  }

  it('a synchronous record after the last poll of the run: the end is a divergence, not identical', async () => {
    const endAt = entries.findIndex((e) => e.kind === 'end');
    const endIc = entries[endAt]!.icount;
    const firstFinal = entries.findIndex((e) => e.icount === endIc);
    const log = [...entries.slice(0, firstFinal), { icount: endIc - 1, kind: 'tsc', payload: { lo: 5, hi: 0 } } as LogEntry, ...entries.slice(firstFinal)];
    const r = (await replayBytes(encodeLog(header, log, 16), { image })).report;
    expect(r.outcome).toBe('divergence');
    expect(r.divergence!.message).toContain(`Tsc[0] at icount ${endIc - 1}`);
  }, 30_000);
});

describe('changed host times in a timer guest log end in a report', () => {
  it('each of 12 changed host-time values: divergence (or identical when nothing moved), never a hang', async () => {
    const polls = entries.map((e, i) => [e, i] as const).filter(([e]) => e.kind === 'host-time' && e.icount > 20_000);
    let diverged = 0;
    for (let n = 0; n < 12; n++) {
      const [e, i] = polls[Math.floor(((n + 0.5) * polls.length) / 12)]!;
      const ns = (e as Extract<LogEntry, { kind: 'host-time' }>).payload.ns;
      // a later time (more PIT edges now) and an earlier one alternate
      const changed = entries.map((x, k) => (k === i ? { ...x, payload: { ns: n % 2 ? ns + 5_000_000 : Math.max(0, ns - 3_000_000) } } : x)) as LogEntry[];
      const r = (await replayBytes(encodeLog(header, changed, 16), { image })).report;
      expect(['divergence', 'identical']).toContain(r.outcome);
      if (r.outcome === 'divergence') diverged++;
    }
    expect(diverged).toBeGreaterThan(0);
  }, 120_000);
});
