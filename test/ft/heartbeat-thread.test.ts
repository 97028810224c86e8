// Worker-thread heartbeats (src/ft/heartbeat-thread.ts): a role's main thread that is busy or waits
// for a CPU longer than the failure timeout is not taken for a failed one, while a hung main thread
// still goes silent. The detector's use of the second path on virtual time; the worker's datagrams
// for real (authenticated, not replayable, stopped by a main thread that stops turning); the verdict
// waiting for the heartbeat thread to read what reached it (virtual time); and a real pair — this
// process the primary, `x86ft ft secondary` a child — surviving both main threads blocked at once for
// 1.5 failure timeouts (2 s: FT's test minimum) without a failure verdict on either side.

import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FailureDetector, ManualTimers, type Failure } from '../../src/ft/heartbeat.js';
import { startAuxBeat, type AuxBeat } from '../../src/ft/heartbeat-thread.js';
import { CLI, DISK_BYTES, guest, tempDir } from './protect-harness.js';
import { openControl, type VmConfig } from '../../src/ft/control.js';
import { FtPrimary } from '../../src/ft/primary.js';
import { DEFAULT_FT_OPTIONS } from '../../src/ft/vm-host.js';
import type { RoleEvent } from '../../src/ft/role.js';

const BLOCK_MAIN = new URL('../helpers/block-main.mjs', import.meta.url).pathname;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('FailureDetector with a second heartbeat path (virtual time)', () => {
  function setup() {
    const timers = new ManualTimers();
    let auxAt = -Infinity, ticks = 0, closed = false;
    const aux: AuxBeat = { tick: () => { ticks++; }, lastHeard: () => auxAt, maxGapMs: () => 0, resetMax: () => undefined, drain: (done) => done(), close: () => { closed = true; } };
    const failures: Failure[] = [];
    const d = new FailureDetector({ heartbeatMs: 50, failureTimeoutMs: 500, timers, aux, sendHeartbeat: () => undefined, onFailed: (f) => failures.push(f) });
    return { timers, d, failures, beat: () => { auxAt = timers.now(); }, ticks: () => ticks, closed: () => closed };
  }

  it('the other path heard keeps the peer alive while the channel is silent; both silent: failed a timeout after the last beat', () => {
    const { timers, d, failures, beat, ticks, closed } = setup();
    d.start();
    for (let i = 0; i < 40; i++) { timers.advance(50); beat(); } // 2 s: the channel said nothing
    expect(failures).toEqual([]);
    expect(ticks()).toBeGreaterThanOrEqual(40); // the main thread's ticks reach the other path
    expect(d.silentMs()).toBe(0);
    timers.advance(499);
    expect(failures).toEqual([]);
    timers.advance(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ kind: 'timeout', silentMs: 500 });
    expect(closed()).toBe(true); // the worker's watch ends with the detector
  });
});

describe('the verdict judges the peer\'s silence, not this process\'s delay in reading (virtual time)', () => {
  function setup() {
    const timers = new ManualTimers();
    let auxAt = -Infinity;
    const drains: (() => void)[] = [];
    const aux: AuxBeat = { tick: () => undefined, lastHeard: () => auxAt, maxGapMs: () => 0, resetMax: () => undefined, drain: (done) => { drains.push(done); }, close: () => undefined };
    const failures: Failure[] = [];
    const d = new FailureDetector({ heartbeatMs: 50, failureTimeoutMs: 500, timers, aux, sendHeartbeat: () => undefined, onFailed: (f) => failures.push(f) });
    return { timers, d, failures, drains, beatAt: (t: number) => { auxAt = t; } };
  }

  it('silent past the timeout: no verdict until the heartbeat thread has read its socket; beats it finds there keep the peer', () => {
    const { timers, d, failures, drains, beatAt } = setup();
    d.start();
    timers.advance(500); // the deadline: silent for a whole timeout as far as anything was read
    expect(failures).toEqual([]);
    expect(drains).toHaveLength(1); // the heartbeat thread is asked to read what reached it
    timers.advance(300); // a starved process: the thread answers late
    expect(failures).toEqual([]);
    beatAt(760); // the beats that waited in its socket, read and stamped now
    drains.shift()!();
    expect(failures).toEqual([]);
    timers.advance(459); // silence counts again from the beat it read (at 760)
    expect(failures).toEqual([]);
    expect(drains).toHaveLength(0);
    timers.advance(1); // 500 ms after it: a new silence, a new drain
    expect(drains).toHaveLength(1);
    drains.shift()!(); // nothing new: failed
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ kind: 'timeout', silentMs: 500 });
  });

  it('a heartbeat thread that does not answer delays the verdict by at most one more timeout', () => {
    const { timers, d, failures, drains } = setup();
    d.start();
    timers.advance(500);
    expect(drains).toHaveLength(1);
    timers.advance(499);
    expect(failures).toEqual([]);
    timers.advance(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ kind: 'timeout', silentMs: 1000 });
    drains.shift()!(); // a late answer changes nothing
    expect(failures).toHaveLength(1);
  });
});

describe('worker beats (real UDP, real worker thread)', () => {
  const keysPair = () => {
    const a = randomBytes(32), b = randomBytes(32), tag = randomBytes(8);
    return [{ send: a, recv: b, tag }, { send: b, recv: a, tag }] as const;
  };
  async function freePort(): Promise<number> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const port = s.address().port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  async function until(what: () => boolean, ms = 20_000): Promise<void> {
    const end = Date.now() + ms;
    while (!what()) { if (Date.now() > end) throw new Error('timed out'); await sleep(10); }
  }

  it('beats reach the peer both ways; they stop once the sender\'s main thread stops turning', async () => {
    const port = await freePort();
    const [kl, kc] = keysPair();
    const listening = startAuxBeat({ keys: kl, bind: { host: '127.0.0.1', port }, heartbeatMs: 20, hangMs: 300 })!;
    const connecting = startAuxBeat({ keys: kc, peer: { host: '127.0.0.1', port }, heartbeatMs: 20, hangMs: 300 })!;
    try {
      const ticker = setInterval(() => { listening.tick(); connecting.tick(); }, 20);
      await until(() => listening.lastHeard() > -Infinity && connecting.lastHeard() > -Infinity);
      const a = listening.lastHeard(), b = connecting.lastHeard();
      await until(() => listening.lastHeard() > a && connecting.lastHeard() > b); // still beating
      // a drain request is answered (after the worker's next read of its sockets)
      await Promise.all([new Promise<void>((r) => listening.drain(r)), new Promise<void>((r) => connecting.drain(r))]);
      clearInterval(ticker); // both "main threads" stop turning: beats stop hangMs later
      await sleep(300 + 1000);
      const l = listening.lastHeard(), c = connecting.lastHeard();
      await sleep(400);
      expect(listening.lastHeard()).toBe(l);
      expect(connecting.lastHeard()).toBe(c);
    } finally { listening.close(); connecting.close(); }
  });

  it('a datagram under another key, or one replayed, is not heard', async () => {
    const port = await freePort();
    const [kl, kc] = keysPair();
    const listening = startAuxBeat({ keys: kl, bind: { host: '127.0.0.1', port }, heartbeatMs: 20, hangMs: 60_000 })!;
    // a wrong key with the right session tag: never heard
    const forger = startAuxBeat({ keys: { ...kc, send: randomBytes(32) }, peer: { host: '127.0.0.1', port }, heartbeatMs: 20, hangMs: 60_000 })!;
    const spy = dgram.createSocket('udp4');
    try {
      forger.tick();
      await sleep(300);
      expect(listening.lastHeard()).toBe(-Infinity);
      forger.close();
      // the real peer's beats, captured: the first is heard, the same bytes again are not
      const captured: Buffer[] = [];
      spy.on('message', (m) => captured.push(m));
      await new Promise<void>((r) => spy.bind(0, '127.0.0.1', r));
      const real = startAuxBeat({ keys: kc, peer: { host: '127.0.0.1', port: spy.address().port }, heartbeatMs: 20, hangMs: 60_000 })!;
      await until(() => captured.length >= 1);
      real.close();
      const beat = captured[0]!;
      await new Promise<void>((r) => spy.send(beat, port, '127.0.0.1', () => r()));
      await until(() => listening.lastHeard() > -Infinity);
      const first = listening.lastHeard();
      await new Promise<void>((r) => spy.send(beat, port, '127.0.0.1', () => r()));
      await sleep(300);
      expect(listening.lastHeard()).toBe(first);
    } finally { listening.close(); forger.close(); spy.close(); }
  });
});

describe('a protected pair whose main threads are both blocked past the failure timeout', () => {
  it('no failover: each side hears the other\'s worker, the run ends in generation 1 with the secondary told', async () => {
    const dir = tempDir('hb-thread');
    const ctl = join(dir, 'control');
    mkdirSync(ctl, { mode: 0o700 });
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, Buffer.alloc(DISK_BYTES));
    const control = await openControl(`dir:${ctl}`);
    try {
      const elf = guest('ft_demo');
      const image = readFileSync(elf);
      const failureTimeoutMs = 2000;
      // 6 lines with 400 ms of guest idle time each: the guest still runs when the block starts (the first ack)
      const config = {
        image: elf, imageSha256: createHash('sha256').update(image).digest('hex'), memorySize: 64 << 20, cmdline: '6 200 400',
        disks: [disk], nets: [], consoleFile: null, store: ctl, ft: { ...DEFAULT_FT_OPTIONS, failureTimeoutMs }, hosts: null,
      } as unknown as VmConfig;
      const events: RoleEvent[] = [];
      let blocked = 0;
      let s: ChildProcess;
      const p: FtPrimary = new FtPrimary({ vm: 'hb', config, control, hostId: 'hb-p', listen: { host: '127.0.0.1', port: 0 },
        onEvent: (e) => {
          events.push(e);
          // once the secondary has acked (its startup grace is over): this thread (the primary's) busy for
          // 1.5 failure timeouts, as a long synchronous job or a thread that gets no CPU
          if (e.kind === 'state' && e.state === 'protected') {
            const poll = setInterval(() => {
              if ((p as unknown as { lastAck: number }).lastAck < 0) return;
              clearInterval(poll);
              // the secondary's main thread busy for as long at the same time (test/helpers/block-main.mjs): for
              // 1.5 failure timeouts neither main thread reads or sends anything on the channel; each side must
              // still judge the other alive (their heartbeat threads heard each other)
              try { s.kill('SIGUSR2'); } catch { /* ended: its stderr then lacks the block line, and the test says so */ }
              const t = Date.now();
              while (Date.now() - t < 1.5 * failureTimeoutMs);
              blocked = Date.now() - t;
            }, 5);
          }
        } });
      await p.start();
      s = spawn(process.execPath, ['--import', BLOCK_MAIN, CLI, 'ft', 'secondary', '--vm', 'hb', '--control', `dir:${ctl}`, '--host-id', 'hb-s'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let sErr = '';
      s.stderr!.on('data', (d: Buffer) => { sErr += d.toString(); });
      const sExit = new Promise<number | null>((r) => s.once('exit', r));
      const outcome = await p.run();
      const sStatus = await sExit;
      expect(blocked).toBeGreaterThanOrEqual(1.5 * failureTimeoutMs);
      expect(sErr, 'the secondary\'s main thread was blocked as long').toMatch(/block-main: blocked \d+ ms/);
      expect(outcome.kind, sErr).toBe('ended');
      expect(events.filter((e) => e.kind === 'peer' && !e.up), sErr).toEqual([]);
      expect(await control.generation('hb')).toBe(1); // nobody claimed generation 2
      expect(sStatus, sErr).toBe(0);
    } finally {
      await control.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
