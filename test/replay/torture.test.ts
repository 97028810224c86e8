// Torture (issue 8): seeded, bounded mutations of real logs — bit flips, truncation, dropped,
// duplicated, swapped and spliced frames, inserted garbage, CRC-valid bad content — always end in
// a documented outcome: in process a report (identical / divergence / incomplete) or a typed error
// (LogError, HeaderMismatchError, ReplaySetupError); through the CLI a documented exit status with
// no stack trace and no hang (subprocess with a generous timeout).
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, execFile } from 'node:child_process';
import { decodeLog, encodeLog, concatBytes, LogError } from '../../src/replay/codec.js';
import { HeaderMismatchError, type LogEntry, type LogHeader } from '../../src/replay/format.js';
import { ReplaySetupError } from '../../src/replay/replayer.js';
import { guestFile, timerGuestSource } from './record-replay-guests.js';
import { recordGuest, replayBytes } from './record-replay-helpers.js';
import { frameBoundaries } from './helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const SEED = 0x5eed8;
let image: Uint8Array, imagePath: string, A: Uint8Array, B: Uint8Array, header: LogHeader, entries: LogEntry[];

beforeAll(async () => {
  imagePath = guestFile('timer', timerGuestSource(6, 1193, 40_000));
  image = new Uint8Array(readFileSync(imagePath));
  A = (await recordGuest(image, { digestEvery: 50_000 })).log;
  B = (await recordGuest(image, { digestEvery: 50_000 })).log;
  ({ header, entries } = decodeLog(A));
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'ignore' });
}, 60_000);

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % n; };
}
function frames(log: Uint8Array): Uint8Array[] {
  const bs = frameBoundaries(log);
  const out = [log.subarray(0, bs[2]!)];
  for (let i = 2; i < bs.length - 1; i++) out.push(log.subarray(bs[i]!, bs[i + 1]!));
  return out;
}

/** One mutated log of kind `k` (0-7) drawn from `r`. */
function mutate(k: number, r: (n: number) => number): { what: string; log: Uint8Array } {
  const f = frames(A), g = frames(B);
  const i = 1 + r(f.length - 2);
  switch (k) {
    case 0: { const b = A.slice(); const n = 1 + r(3); for (let j = 0; j < n; j++) b[r(b.length)]! ^= 1 << r(8); return { what: `${n} bit flip(s)`, log: b }; }
    case 1: { const at = r(A.length); return { what: `truncated at ${at}`, log: A.subarray(0, at) }; }
    case 2: return { what: `frame ${i} dropped`, log: concatBytes([...f.slice(0, i), ...f.slice(i + 1)]) };
    case 3: return { what: `frame ${i} duplicated`, log: concatBytes([...f.slice(0, i + 1), f[i]!, ...f.slice(i + 1)]) };
    case 4: return { what: `frames ${i},${i + 1} swapped`, log: concatBytes([...f.slice(0, i), f[i + 1]!, f[i]!, ...f.slice(i + 2)]) };
    case 5: { const j = Math.min(i, g.length - 1); return { what: `spliced at frame ${j}`, log: concatBytes([...f.slice(0, j), ...g.slice(j)]) }; }
    case 6: { const at = r(A.length); const junk = new Uint8Array(1 + r(40)).map(() => r(256)); return { what: `${junk.length} bytes inserted at ${at}`, log: concatBytes([A.subarray(0, at), junk, A.subarray(at)]) }; }
    default: {
      // CRC-valid bad content: a field of one entry or of the header changed within its type
      const es = entries.map((e) => ({ ...e, payload: { ...e.payload } })) as LogEntry[];
      let h: LogHeader = { ...header };
      const e = es[1 + r(es.length - 2)]!;
      const p = e.payload as unknown as Record<string, unknown>;
      const keys = Object.keys(p);
      const key = keys[r(keys.length)]!;
      const v = p[key];
      switch (r(4)) {
        case 0: h = { ...h, devices: [{ memSize: 1 }, { disks: [{ sizeBytes: 3 }] }, { nets: [{ mac: [255, 1, 2, 3, 4, 5] }] }, { cmdline: 7 }][r(4)]! as never }; h = { ...h, devices: { ...(header.devices as object), ...(h.devices as object) } }; return { what: `header devices ${JSON.stringify(h.devices)}`, log: encodeLog(h, es) };
        case 1: h = { ...h, digestInterval: 1 + r(200_000) }; return { what: `digestInterval ${h.digestInterval}`, log: encodeLog(h, es) };
        case 2: if (typeof v === 'number') p[key] = key === 'irq' || key === 'unit' || key === 'device' || key === 'size' ? r(256) : r(2 ** 31); else if (v instanceof Uint8Array) p[key] = v.subarray(0, r(v.length + 1)); return { what: `${e.kind}.${key} changed`, log: encodeLog(h, es) };
        default: { const moved = es.map((x) => (x === e ? { ...x, icount: Math.max(0, x.icount + r(2000) - 1000) } : x)); moved.sort((a, b) => a.icount - b.icount); return { what: `${e.kind} moved`, log: encodeLog(h, moved) }; }
      }
    }
  }
}

describe('mutated logs end in a documented outcome', () => {
  it('in process: 80 mutations (10 of each kind), a report or a typed error, never anything else', async () => {
    const r = rng(SEED);
    const seen = new Map<string, number>();
    for (let n = 0; n < 80; n++) {
      let m: { what: string; log: Uint8Array };
      try { m = mutate(n % 8, r); } catch { continue; } // a content mutation the encoder itself refuses
      const out = await replayBytes(m.log, { image }).then((x) => x.report.outcome as string, (e: unknown) => e);
      const kind = typeof out === 'string' ? out
        : out instanceof LogError ? out.code
        : out instanceof HeaderMismatchError || out instanceof ReplaySetupError ? 'mismatch'
        : `UNDOCUMENTED ${(out as Error)?.name}: ${(out as Error)?.message} (${m.what})`;
      expect(kind, m.what).not.toMatch(/^UNDOCUMENTED/);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
    }
    // the mutations reach the outcomes they should
    expect(seen.get('LOG_CORRUPT')).toBeGreaterThan(20);
    expect(seen.get('incomplete')).toBeGreaterThan(3);
  }, 120_000);

  it('through the CLI: 16 mutations (2 of each kind) exit 0/3/4/5/6, no stack trace, no hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-torture-'));
    const r = rng(SEED + 1);
    for (let n = 0; n < 16; n++) {
      let m: { what: string; log: Uint8Array };
      try { m = mutate(n % 8, r); } catch { continue; }
      const file = join(dir, `m${n}.log`);
      writeFileSync(file, m.log);
      const p = await new Promise<{ status: number | null; stderr: string; killed: boolean }>((res) => {
        const c = execFile(process.execPath, [CLI, 'replay', file, '--image', imagePath, '--quiet'], { encoding: 'utf8', timeout: 60_000 }, (_e, _out, stderr) => res({ status: c.exitCode, stderr, killed: c.killed }));
      });
      expect(p.killed, `${m.what}: hung`).toBe(false); // the timeout would have killed it
      expect([0, 3, 4, 5, 6], `${m.what}: status ${p.status}, ${p.stderr}`).toContain(p.status);
      expect(p.stderr, m.what).not.toMatch(/\n\s+at |internal error/);
    }
  }, 240_000);
});
