// FailureDetector on virtual time (ManualTimers: no wall clock), and watchPeer on a real loopback
// channel: heartbeats reach the peer, any message counts, a lost connection fails at once, an
// orderly bye does not.

import { describe, expect, it } from 'vitest';
import { connectFt } from '../../src/ft/channel.js';
import { FailureDetector, ManualTimers, watchPeer, type Failure } from '../../src/ft/heartbeat.js';
import { ProtocolError, type FtMessage } from '../../src/ft/protocol.js';
import { ident, server } from './channel-helpers.js';

function detector(extra: { heartbeatMs?: number; failureTimeoutMs?: number } = {}) {
  const timers = new ManualTimers();
  const beats: number[] = [];
  const failures: Failure[] = [];
  const d = new FailureDetector({ ...extra, timers, sendHeartbeat: () => beats.push(timers.now()), onFailed: (f) => failures.push(f) });
  return { d, timers, beats, failures };
}

describe('FailureDetector (virtual time)', () => {
  it('sends a heartbeat at start and every heartbeatMs (default 50)', () => {
    const { d, timers, beats } = detector();
    d.start();
    timers.advance(200);
    expect(beats).toEqual([0, 50, 100, 150, 200]);
  });

  it('fails the peer after exactly failureTimeoutMs (default 500) of silence, once', () => {
    const { d, timers, failures, beats } = detector();
    d.start();
    timers.advance(499);
    expect(failures).toEqual([]);
    timers.advance(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ kind: 'timeout', silentMs: 500 });
    expect(d.failed).toBe(true);
    const n = beats.length;
    timers.advance(5000);
    expect(failures).toHaveLength(1);
    expect(beats.length).toBe(n); // no heartbeats to a failed peer
  });

  it('any message heard restarts the silence; the verdict comes failureTimeoutMs after the last one', () => {
    const { d, timers, failures } = detector({ heartbeatMs: 10, failureTimeoutMs: 100 });
    d.start();
    for (let i = 0; i < 20; i++) {
      timers.advance(60);
      d.heard();
    }
    expect(failures).toEqual([]);
    expect(d.silentMs()).toBe(0);
    timers.advance(99);
    expect(failures).toEqual([]);
    timers.advance(1);
    expect(failures[0]).toMatchObject({ kind: 'timeout', silentMs: 100 });
  });

  it('a lost connection fails at once, without waiting for the timeout', () => {
    const { d, timers, failures } = detector();
    d.start();
    timers.advance(20);
    d.connectionLost(new ProtocolError('RESET', 'connection reset'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ kind: 'connection', silentMs: 20 });
  });

  it('silence while this side holds its reading (holdWhile) does not count', () => {
    const timers = new ManualTimers();
    let held = true;
    const failures: Failure[] = [];
    const d = new FailureDetector({ timers, holdWhile: () => held, sendHeartbeat: () => undefined, onFailed: (f) => failures.push(f) });
    d.start();
    timers.advance(5000);
    expect(failures).toEqual([]);
    held = false;
    timers.advance(499);
    expect(failures).toEqual([]);
    timers.advance(100);
    expect(failures).toHaveLength(1);
  });

  it('stop() ends heartbeats and verdicts', () => {
    const { d, timers, failures, beats } = detector();
    d.start();
    d.stop();
    timers.advance(10_000);
    expect(beats).toEqual([0]);
    expect(failures).toEqual([]);
  });

  it('refuses a timeout not above the heartbeat period', () => {
    expect(() => detector({ heartbeatMs: 50, failureTimeoutMs: 50 })).toThrow(/heartbeat < failure timeout/);
    expect(() => detector({ heartbeatMs: 0 })).toThrow(/CONFIG|heartbeat/);
  });
});

describe('watchPeer on a real channel (virtual time)', () => {
  async function pair() {
    const { srv } = await server();
    const accepted = srv.accept();
    const s = await connectFt({ ...ident, hostId: 'host-s', port: srv.port });
    const p = await accepted;
    return { srv, p, s };
  }

  it('heartbeats carry the icount; messages count as heard; a vanished peer fails at once', async () => {
    const { srv, p, s } = await pair();
    const timers = new ManualTimers();
    const failures: Failure[] = [];
    const d = watchPeer(p, { timers, icount: () => 777, onFailed: (f) => failures.push(f) });
    const got = new Promise<FtMessage>((r) => s.onMessage(r));
    expect(await got).toEqual({ t: 'heartbeat', icount: 777 });
    timers.advance(400);
    s.send({ t: 'ack', icount: 1 });
    await new Promise<void>((r) => p.onMessage(() => r()));
    timers.advance(400);
    expect(failures).toEqual([]); // heard at 400: not silent for 500 yet
    s.abort();
    await p.closed;
    await new Promise((r) => setImmediate(r));
    expect(failures).toHaveLength(1);
    expect(failures[0]!.kind).toBe('connection');
    expect(d.failed).toBe(true);
    await srv.close();
  });

  it('an orderly bye is not a failure', async () => {
    const { srv, p, s } = await pair();
    const failures: Failure[] = [];
    const d = watchPeer(p, { timers: new ManualTimers(), icount: () => 0, onFailed: (f) => failures.push(f) });
    s.close({ reason: 'stop requested' });
    expect((await p.closed).code).toBe('BYE');
    await new Promise((r) => setImmediate(r));
    expect(failures).toEqual([]);
    expect(d.failed).toBe(false);
    await srv.close();
  });
});
