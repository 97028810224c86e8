// Chain replay (src/replay/chain.ts): generation logs replay as one run. Chains are built by hand
// from real recordings: (1) one live machine whose recording is closed at G and continued in a
// second log from G (the existing Recorder); (2) an old primary that ran on past G before it
// "died", and a second machine that replayed its log up to G, went live there and recorded the
// rest. The chain's replay must be identical and reproduce the console and the disk byte for byte.

import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { spawnAsync } from '../helpers/proc.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine } from '../../src/machine/machine.js';
import { GateSwitch, LiveGate, ReplayGate, type DiskBackend, type GateRecord } from '../../src/machine/gate.js';
import { SystemClock, SystemEntropy } from '../../src/devices/backends/clock.js';
import { FileDisk } from '../../src/devices/backends/disk.js';
import { Recorder } from '../../src/replay/recorder.js';
import { OutputTally } from '../../src/replay/digest.js';
import { decodeLog } from '../../src/replay/codec.js';
import { entryToGate } from '../../src/replay/gate-entries.js';
import { configFromJson } from '../../src/replay/machine-snapshot.js';
import { ChainError, chainLogs, fileLinks, linkProblem, type ChainInfo } from '../../src/replay/chain.js';
import type { LogHeader } from '../../src/replay/format.js';
import { ConsoleFile, ensureVmDir, exportDisk, listGenerationLogs, openGenerationDisk, storePath } from '../../src/ft/store.js';
import { createVm, openControl } from '../../src/ft/control.js';
import { memorySink, recordGuest, replayBytes } from './record-replay-helpers.js';
import { CLI, guestElf } from '../devices-guests/helpers.js';

const SECTOR = 512;
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'x86ft-chain-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function baseImage(name: string, sectors = 128): string {
  const p = join(dir, name);
  const b = Buffer.alloc(sectors * SECTOR, 0xc3);
  b.write('x86ft chain test: sector zero\n', 0, 'latin1');
  writeFileSync(p, b);
  return p;
}

/**
 * Case 1: one live machine whose recording is closed at each G (Recorder.run(G)) and continued from
 * G by the next generation's Recorder, as a go-live writes it: live records at or after G go to the
 * next log, the disk switches to the next generation's layer (store.ts) and the console file is
 * reopened without truncation. Returns the store holding gen-<g>.log, the layers and the console file.
 */
async function recordGenerations(image: Uint8Array, base: string, Gs: number[], tag: string) {
  const store = join(dir, `store-${tag}`), vm = 'vm';
  const n = Gs.length + 1;
  const sinks = Array.from({ length: n }, () => memorySink());
  const recs: Recorder[] = [];
  for (let k = 0; k < n; k++) recs.push(new Recorder({ sink: sinks[k]!, image, digestEvery: k ? 30_000 : 20_000, outputs: recs[0]?.outputs }));
  let disk = openGenerationDisk({ store, vm, disk: 0, base, generation: 1 });
  const proxy: DiskBackend = { size: disk.size, read: (o, l) => disk.read(o, l), write: (o, d) => disk.write(o, d), flush: () => disk.flush() };
  const consolePath = storePath(store, vm, { kind: 'console' });
  let con = ConsoleFile.create(consolePath), conAt = 0;
  const genOf = (icount: number) => Gs.filter((G) => G <= icount).length;
  const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), disks: [proxy] }, { onRecord: (r: GateRecord) => recs[genOf(r.icount)]!.onRecord(r) });
  const m = Machine.fromElf(image, { memSize: 16 << 20, disks: [{ sizeBytes: disk.size }], gate, consoleOut: (b) => con.writeByte(conAt++, b) });
  recs[0]!.attach(m);
  for (let k = 0; k < Gs.length; k++) {
    const r = await recs[k]!.run(Gs[k]);
    expect(r.end, 'the guest must still run at G').toBe('budget');
    disk.close();
    disk = openGenerationDisk({ store, vm, disk: 0, base, generation: k + 2 });
    con.close();
    con = ConsoleFile.open(consolePath);
    recs[k + 1]!.attach(m);
  }
  const result = await recs[n - 1]!.run();
  disk.close();
  con.close();
  sinks.forEach((s, k) => writeFileSync(storePath(store, vm, { kind: 'log', generation: k + 1 }), s.bytes()));
  return { store, vm, logs: listGenerationLogs(store, vm).map((l) => l.path), console: readFileSync(consolePath, 'latin1'), result };
}

/** Replays a chain of files, applying the (suppressed) disk writes to a copy of `base`. */
async function replayChain(logs: string[], image: Uint8Array, base?: string, tag = 'replayed') {
  let disk: FileDisk | undefined, copy: string | undefined;
  if (base) { copy = join(dir, `${tag}.img`); copyFileSync(base, copy); disk = FileDisk.open(copy); }
  const info: ChainInfo = { links: [] };
  const out = await replayBytes(chainLogs(fileLinks(logs), info), { image, diskWrite: disk ? (_n, off, data) => disk!.write(off, data) : undefined });
  disk?.close();
  return { ...out, info, disk: copy ? readFileSync(copy) : undefined };
}

describe('chain replay: a recording continued at each G by the next generation\'s log', () => {
  it('replays identical and reproduces the console file and the disk (base + layers) byte for byte (dev_disk)', async () => {
    const elf = readFileSync(guestElf('dev_disk', 'O2'));
    // the full run's length, to put the G's inside it
    const probeDisk = FileDisk.open(baseImage('probe.img'));
    const probe = await recordGuest(elf, { memSize: 16 << 20, disks: [{ sizeBytes: probeDisk.size }], backends: { disks: [probeDisk] } });
    probeDisk.close();
    expect(probe.result.end).toBe('exit');
    const total = probe.result.instructions;
    expect(total).toBeGreaterThan(10_000);
    for (const fracs of [[0.5], [0.13, 0.87], [0.3, 0.31, 0.6]]) {
      const Gs = fracs.map((f) => Math.floor(total * f));
      const tag = fracs.join('-');
      const base = baseImage(`base-${tag}.img`);
      const rec = await recordGenerations(elf, base, Gs, tag);
      expect(rec.result.end).toBe('exit');
      expect(rec.console).toContain('disk ok: 0 failures');
      expect(rec.logs.length).toBe(Gs.length + 1);
      const rep = await replayChain(rec.logs, elf, base, `replayed-${tag}`);
      expect(rep.report.outcome, JSON.stringify(rep.report.divergence)).toBe('identical');
      expect(rep.report.digestsChecked).toBeGreaterThan(2);
      expect(rep.console).toBe(rec.console);
      const exported = join(dir, `export-${tag}.img`);
      exportDisk({ store: rec.store, vm: rec.vm, disk: 0, base, out: exported });
      expect(rep.disk!.equals(readFileSync(exported))).toBe(true);
      expect(rep.disk!.equals(readFileSync(base))).toBe(false);
      expect(rep.info.links.map((l) => l.startIcount)).toEqual([0, ...Gs]);
      // each closed log's final digest and end record at its G belong to the next generation: dropped
      for (const l of rep.info.links.slice(0, -1)) expect(l.dropped).toBe(1);
    }
  });
});

describe('chain replay: an old primary ran on past G, a second machine went live at G', () => {
  it('drops the rest of generation 1 (also when its last frame is cut) and replays identical', async () => {
    const elf = readFileSync(guestElf('dev_timer', 'O2'));
    // the old primary: a whole run of a timer/TSC-driven guest
    const s1 = memorySink();
    const rec1 = new Recorder({ sink: s1, image: elf, digestEvery: 100_000 });
    const m1 = Machine.fromElf(elf, { memSize: 16 << 20, gate: new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy() }, { onRecord: rec1.onRecord }) });
    rec1.attach(m1);
    await rec1.run();
    const log1 = s1.bytes();
    const { header, entries } = decodeLog(log1);
    // G: just after an entry in the middle, where no entry is logged (the secondary consumed exactly the entries < G)
    const counts = new Set(entries.map((e) => e.icount));
    let G = 0;
    for (let i = Math.floor(entries.length / 2); i < entries.length; i++) if (!counts.has(entries[i]!.icount + 1)) { G = entries[i]!.icount + 1; break; }
    expect(G).toBeGreaterThan(0);
    // the secondary: replays the entries < G, then goes live at G on its own clock
    const sw = new GateSwitch(new ReplayGate(entries.filter((e) => e.icount < G).map(entryToGate).filter((g): g is GateRecord => !!g), true));
    const tally = new OutputTally();
    let console = '';
    const s2 = memorySink();
    const rec2 = new Recorder({ sink: s2, image: elf, digestEvery: 100_000, outputs: tally });
    const m2 = Machine.fromElf(elf, { ...configFromJson(header.devices), gate: sw, consoleOut: (b) => { console += String.fromCharCode(b); } });
    m2.outputs.tally = tally; // the output seam counts what the replay part produces too
    const atG = m2.run(G);
    expect(atG.end).toBe('budget');
    expect(m2.cpu.icount).toBe(G);
    sw.use(new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy() }, { onRecord: rec2.onRecord, startNs: sw.timeNs }));
    rec2.attach(m2);
    await rec2.run();
    const logs = [join(dir, 'ahead-gen-1.log'), join(dir, 'ahead-gen-2.log')];
    writeFileSync(logs[0]!, log1);
    writeFileSync(logs[1]!, s2.bytes());

    const rep = await replayChain(logs, elf);
    expect(rep.report.outcome, JSON.stringify(rep.report.divergence)).toBe('identical');
    expect(rep.console).toBe(console);
    expect(rep.info.links[0]!.dropped).toBe(1); // it stopped reading generation 1 at its first entry >= G
    expect(rep.info.links[0]!.taken).toBeLessThan(entries.length);
    // generation 1 alone replays identical too (what it recorded is another run after G)
    expect((await replayBytes(log1, { image: elf })).report.outcome).toBe('identical');

    // the old primary's log cut inside its last frame: still the same chain
    truncateSync(logs[0]!, statSync(logs[0]!).size - 3);
    const cut = await replayChain(logs, elf);
    expect(cut.report.outcome).toBe('identical');
    expect(cut.console).toBe(console);
    expect(cut.info.links[0]!.cut).toBe(false); // G lies before the cut: the cut frame was never needed

    // the CLI: x86ft replay GEN1.log GEN2.log --image GUEST.elf
    const ok = await spawnAsync(process.execPath, [CLI, 'replay', ...logs, '--image', guestElf('dev_timer', 'O2'), '--quiet'], { encoding: 'utf8' });
    expect(ok.stdout).toContain('replay identical');
    expect(ok.status).toBe(0);
    // x86ft replay --control dir:PATH NAME: the logs found in the store, in generation order
    const store = join(dir, 'store');
    ensureVmDir(store, 'vm-a'); // 0700 all the way: the dir: control plane refuses anything else
    copyFileSync(logs[0]!, storePath(store, 'vm-a', { kind: 'log', generation: 1 }));
    copyFileSync(logs[1]!, storePath(store, 'vm-a', { kind: 'log', generation: 2 }));
    const viaStore = await spawnAsync(process.execPath, [CLI, 'replay', '--control', `dir:${store}`, 'vm-a', '--image', guestElf('dev_timer', 'O2'), '--quiet'], { encoding: 'utf8' });
    expect(viaStore.stdout, viaStore.stderr).toContain('replay identical');
    expect(viaStore.status).toBe(0);
    // with a VM record in the control plane: the store and the image come from it
    const ctlDir = join(dir, 'control');
    const cp = await openControl(`dir:${ctlDir}`);
    await createVm(cp, 'vm-a', {
      image: guestElf('dev_timer', 'O2'), imageSha256: header.imageSha256, memorySize: header.memorySize, cmdline: '', disks: [], nets: [],
      consoleFile: null, store, ft: { heartbeatMs: 50, failureTimeoutMs: 500, maxHeldBytes: 4 << 20, maxHeldMs: 200, maxLagMs: 50 }, hosts: null,
    }, { hostId: 'test', pid: process.pid });
    await cp.close();
    const viaRecord = await spawnAsync(process.execPath, [CLI, 'replay', '--control', `dir:${ctlDir}`, 'vm-a', '--quiet'], { encoding: 'utf8' });
    expect(viaRecord.stderr).toBe('');
    expect(viaRecord.stdout).toContain('replay identical');
    expect(viaRecord.status).toBe(0);
    const none = await spawnAsync(process.execPath, [CLI, 'replay', '--control', `dir:${store}`, 'vm-b', '--image', guestElf('dev_timer', 'O2')], { encoding: 'utf8' });
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no generation logs of VM vm-b');
    const badName = await spawnAsync(process.execPath, [CLI, 'replay', '--control', `dir:${store}`, '../x', '--image', guestElf('dev_timer', 'O2')], { encoding: 'utf8' });
    expect(badName.status).toBe(2);
    expect(badName.stderr).toContain('VM name');
    // the wrong order is not a chain: a clear message and exit 5, no stack trace
    const bad = await spawnAsync(process.execPath, [CLI, 'replay', logs[1]!, logs[0]!, '--image', guestElf('dev_timer', 'O2')], { encoding: 'utf8' });
    expect(bad.status).toBe(5);
    expect(bad.stderr).toMatch(/does not continue .*starts at icount 0, before the previous log/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    // a later generation's log alone cannot replay from boot: refused up front (it reported a divergence, exit 3)
    const alone = await spawnAsync(process.execPath, [CLI, 'replay', logs[1]!, '--image', guestElf('dev_timer', 'O2')], { encoding: 'utf8' });
    expect(alone.status, alone.stderr).toBe(5);
    expect(alone.stderr).toMatch(/starts at instruction \d+, where an earlier log stops: replay it after the logs before it/);

    // the LAST log cut inside a frame (its primary was killed: the chain of every lost VM): replayed to its last
    // whole frame, a prefix of the console, the cut log named (new-user trial: it was "nothing to replay", exit 6)
    const lastCut = join(dir, 'ahead-gen-2-cut.log');
    copyFileSync(logs[1]!, lastCut);
    truncateSync(lastCut, statSync(lastCut).size - 3);
    const cutChain = await replayChain([logs[0]!, lastCut], elf);
    expect(cutChain.report.outcome).toBe('incomplete');
    expect(cutChain.report.digestsChecked).toBeGreaterThan(0);
    expect(console.startsWith(cutChain.console)).toBe(true);
    expect(cutChain.info.links[1]!.cut).toBe(true);
    const cli = await spawnAsync(process.execPath, [CLI, 'replay', logs[0]!, lastCut, '--image', guestElf('dev_timer', 'O2'), '--quiet'], { encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(6);
    expect(cli.stdout).toMatch(/replay incomplete: the log is unfinished \(.*ahead-gen-2-cut\.log: log is cut at offset \d+.*\); replayed to its last whole frame, identical so far/);
    expect(cli.stderr).toBe('');
  });
});

describe('chain links', () => {
  const h = (o: Partial<LogHeader> & { ft?: unknown } = {}): LogHeader => ({
    version: 2, imageSha256: 'a'.repeat(64), memorySize: 1 << 23, devices: { memSize: 1 << 23 }, digestInterval: 1000, startIcount: 0, fromSnapshot: null, ...o,
  } as LogHeader);
  it('names why a log does not continue another', () => {
    expect(linkProblem(h(), h({ startIcount: 50 }))).toBeUndefined();
    expect(linkProblem(h(), h({ imageSha256: 'b'.repeat(64) }))).toMatch(/image/);
    expect(linkProblem(h(), h({ memorySize: 1 << 24 }))).toMatch(/memory size/);
    expect(linkProblem(h(), h({ devices: { memSize: 1 << 23, disks: [] } }))).toMatch(/device configuration/);
    expect(linkProblem(h(), h({ fromSnapshot: 'c'.repeat(64) }))).toMatch(/snapshot/);
    expect(linkProblem(h({ startIcount: 9 }), h({ startIcount: 5 }))).toMatch(/before the previous log/);
    const ft = (vm: string, generation: number, previousGeneration: number | null) => ({ ft: { vm, generation, previousGeneration } });
    expect(linkProblem(h(ft('a', 1, null)), h({ startIcount: 5, ...ft('a', 2, 1) }))).toBeUndefined();
    expect(linkProblem(h(ft('a', 1, null)), h(ft('b', 2, 1)))).toMatch(/VM "b"/);
    expect(linkProblem(h(ft('a', 1, null)), h(ft('a', 3, 2)))).toMatch(/following generation 2, not 1/);
  });

  it('refuses a generation log that ends before the next one starts, and an empty chain', async () => {
    const elf = readFileSync(guestElf('hello', 'O2'));
    const s = memorySink();
    const rec = new Recorder({ sink: s, image: elf });
    const m = Machine.fromElf(elf, { memSize: 16 << 20, gate: new LiveGate({ clock: new SystemClock() }, { onRecord: rec.onRecord }) });
    rec.attach(m);
    const r = await rec.run();
    expect(r.end).toBe('exit');
    const bytes = s.bytes();
    const { header, entries } = decodeLog(bytes);
    const a = join(dir, 'hello-1.log'), b = join(dir, 'hello-2.log');
    writeFileSync(a, bytes);
    // a second log claiming to start after the guest exited
    const { encodeLog } = await import('../../src/replay/codec.js');
    writeFileSync(b, encodeLog({ ...header, startIcount: r.instructions + 10 }, [{ icount: r.instructions + 10, kind: 'start', payload: { epochMs: 0 } }, entries.at(-1)!].map((e, i) => i ? { ...e, icount: r.instructions + 10 } : e) as never));
    const drain = async (it: AsyncIterable<Uint8Array>) => { for await (const _ of it) { /* consume */ } };
    await expect(drain(chainLogs(fileLinks([a, b])))).rejects.toThrow(/ends \('exit'\) at icount \d+, before .* starts at/);
    await expect(drain(chainLogs([]))).rejects.toBeInstanceOf(ChainError);
  });
});
