// Guest time continues with no jump across a restore (issue 8): a live gate resumed from a snapshot's
// guest time (LiveGateOptions.resume — what `record --from-snapshot` and the FT go-live use) gives the
// PIT, the TSC and the RTC the time they had, plus the host time since; the RTC keeps its wall origin,
// so after a 20 s pause it lags the host by 20 s instead of jumping. Virtual clocks only.
import { describe, it, expect } from 'vitest';
import { Machine } from '../../src/machine/machine.js';
import { LiveGate, GateKind, type GateRecord, type GuestTime } from '../../src/machine/gate.js';
import { ManualClock } from '../../src/devices/backends/clock.js';
import { takeSnapshot, restoreSnapshot } from '../../src/replay/machine-snapshot.js';
import { assembleGuestBytes } from '../helpers/asm.js';

const image = assembleGuestBytes('_start:\n1: jmp 1b\n', 'spin');
const NOON = Date.UTC(2025, 0, 1, 12, 0, 0);
const STEP = 100_000_000; // 100 ms of host time per slice

/** Seconds since midnight as the guest reads them from the RTC (BCD, 24 h: the power-on format). */
function rtcSeconds(m: Machine): number {
  const reg = (i: number) => { m.rtc.portWrite(0x70, 1, i); const v = m.rtc.portRead(0x71, 1); return (v >> 4) * 10 + (v & 15); };
  return reg(4) * 3600 + reg(2) * 60 + reg(0);
}

/** Runs one slice (one gate poll at its end) after moving the host clock by `ns`. */
function step(m: Machine, clock: ManualClock, ns = STEP): void {
  clock.advance(ns);
  m.run(m.cpu.icount + 50_000);
}

/** A machine run for ~3.5 s of guest time, and its snapshot. */
function paused(): { bytes: Uint8Array; time: GuestTime; rtc: number; pitNs: number } {
  const clock = new ManualClock(0, NOON);
  const m = Machine.fromElf(image, { memSize: 2 << 20, gate: new LiveGate({ clock }) });
  for (let k = 0; k < 35; k++) step(m, clock);
  const snap = takeSnapshot(m, { imageSha256: '0'.repeat(64) });
  const restored = restoreSnapshot(snap.bytes, { gate: new LiveGate({ clock: new ManualClock() }) });
  return { bytes: snap.bytes, time: restored.meta.time, rtc: rtcSeconds(m), pitNs: m.pit.timeNs };
}

describe('guest time across a restore', () => {
  const p = paused();

  it('the snapshot carries the guest time, the last TSC and the RTC wall origin', () => {
    expect(p.time.timeNs).toBe(p.pitNs);
    expect(p.time.timeNs).toBeGreaterThanOrEqual(3_400_000_000);
    expect(p.time.wallOriginMs).toBe(NOON);
    expect(p.rtc).toBe(12 * 3600 + 3);
  });

  it('resumed 20 s later: PIT, TSC and RTC go on from the saved time, no jump, no wall-clock record', () => {
    // another host: its monotonic clock has another origin, its wall clock is 20 s later
    const clock = new ManualClock(987_654_321_000, NOON + 3_500 + 20_000);
    const records: GateRecord[] = [];
    const gate = new LiveGate({ clock }, { resume: p.time, onRecord: (r) => records.push(r) });
    const m = restoreSnapshot(p.bytes, { gate }).machine;
    step(m, clock);
    expect(m.pit.timeNs).toBe(p.time.timeNs + STEP);
    expect(rtcSeconds(m) - p.rtc).toBeLessThanOrEqual(1); // not 20: the guest's clock now lags the host's by the pause
    const [lo, hi] = gate.tsc(m.cpu.icount);
    const tsc = hi * 2 ** 32 + lo;
    expect(tsc).toBeGreaterThanOrEqual(p.time.lastTsc);
    expect(tsc).toBe(p.time.timeNs + STEP);
    expect(records.filter((r) => r.kind === GateKind.Wall)).toEqual([]);
    for (let k = 0; k < 20; k++) step(m, clock);
    expect(rtcSeconds(m) - p.rtc).toBe(2); // 2.1 s of guest time later, whatever the host's wall clock says
  });

  it('control: a gate given only the start time (the old way) makes the RTC jump by the pause', () => {
    const clock = new ManualClock(0, NOON + 3_500 + 20_000);
    const m = restoreSnapshot(p.bytes, { gate: new LiveGate({ clock }, { startNs: p.time.timeNs, startTsc: p.time.lastTsc }) }).machine;
    step(m, clock);
    expect(m.pit.timeNs).toBe(p.time.timeNs + STEP);
    expect(rtcSeconds(m) - p.rtc).toBeGreaterThanOrEqual(20);
  });

  it('a snapshot taken before the first poll has no wall origin: the resumed gate sends the host wall clock', () => {
    const m0 = Machine.fromElf(image, { memSize: 2 << 20, gate: new LiveGate({ clock: new ManualClock(0, NOON) }) });
    const snap = takeSnapshot(m0, { imageSha256: '0'.repeat(64) });
    const r = restoreSnapshot(snap.bytes, { gate: new LiveGate({ clock: new ManualClock() }) });
    expect(r.meta.time).toEqual({ timeNs: 0, lastTsc: 0, wallOriginMs: null });
    const clock = new ManualClock(0, NOON + 60_000);
    const records: GateRecord[] = [];
    const m = restoreSnapshot(snap.bytes, { gate: new LiveGate({ clock }, { resume: r.meta.time, onRecord: (x) => records.push(x) }) }).machine;
    step(m, clock);
    expect(records.filter((x) => x.kind === GateKind.Wall).map((x) => x.payload)).toEqual([NOON + 60_000]);
    expect(rtcSeconds(m)).toBe(12 * 3600 + 60);
  });
});
