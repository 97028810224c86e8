// The secondary's channel thread (src/ft/channel-thread.ts) over real loopback sockets, against the
// primary's listener on this thread: it acks a sync mark as it reads it, with no handler on the
// main thread; it hands every message on in order, with `acked` set when the sync is delivered;
// stopAcks() stops the acks, and so does a main thread silent for hangMs; `closed` comes after every message read; a wrong secret is refused; a
// dead thread is a RESET with threadFailure. The primary's listening thread (listenFtThread): acks into
// shared memory (ackedNow) with no handler on the main thread, messages in order, the secondary on the
// primary's host refused, back-pressure, and a dead thread. The thread runs compiled code: the build's module.

import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError, type FtMessage } from '../../src/ft/protocol.js';
import type { FtPeer } from '../../src/ft/channel.js';
import { connectFt } from '../../src/ft/channel.js';
import { ident, server } from './channel-helpers.js';

const mod = (await import(new URL('../../dist/src/ft/channel-thread.js', import.meta.url).href)) as typeof import('../../src/ft/channel-thread.js');
const AUX = 'x86ft-hb1';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pair(secret = ident.secret) {
  const s = await server();
  cleanups.push(() => s.srv.close());
  const sp = mod.connectFtThread({ ...ident, secret, hostId: 'host-s', port: s.srv.port, auxLabel: AUX });
  const [p, sec] = await Promise.all([s.srv.accept(), sp]);
  cleanups.push(() => { sec.abort(); p.abort(); });
  return { p, sec };
}

/** Messages P receives, awaitable one by one. */
function inbox(peer: FtPeer): { next(): Promise<FtMessage> } {
  const all: FtMessage[] = [];
  const waiters: ((m: FtMessage) => void)[] = [];
  peer.onMessage((m) => { const w = waiters.shift(); if (w) w(m); else all.push(m); });
  return { next: () => (all.length ? Promise.resolve(all.shift()!) : new Promise((r) => waiters.push(r))) };
}

describe('channel thread (secondary side)', () => {
  it('acks a sync mark as it reads it, and hands the messages on in order with acked set', async () => {
    const { p, sec } = await pair();
    expect(sec.peerHostId).toBe('host-p');
    expect(sec.auxKeys(AUX).tag.length).toBe(8);
    const got = inbox(p);
    p.send({ t: 'log', bytes: new Uint8Array([1, 2, 3]) });
    p.send({ t: 'sync', icount: 41 });
    // no handler on this side yet: the thread acks all the same
    expect(await got.next()).toEqual({ t: 'ack', icount: 41 });
    const seen: [FtMessage, number][] = [];
    const two = new Promise<void>((r) => sec.onMessage((m) => { seen.push([m, sec.acked]); if (seen.length === 2) r(); }));
    await two;
    expect(seen[0]![0]).toEqual({ t: 'log', bytes: new Uint8Array([1, 2, 3]) });
    expect(seen[1]).toEqual([{ t: 'sync', icount: 41 }, 41]);
    // an older or equal mark is not acked again
    p.send({ t: 'sync', icount: 41 });
    p.send({ t: 'sync', icount: 50 });
    expect(await got.next()).toEqual({ t: 'ack', icount: 50 });
  });

  it('stopAcks(): later sync marks are not acked (what the main thread sends still goes)', async () => {
    const { p, sec } = await pair();
    const got = inbox(p);
    sec.onMessage((m) => { if (m.t === 'heartbeat') sec.send({ t: 'heartbeat', icount: m.icount }); });
    p.send({ t: 'sync', icount: 5 });
    expect(await got.next()).toEqual({ t: 'ack', icount: 5 });
    sec.stopAcks();
    // one ordered port: once this heartbeat went out, the thread had stopped acking
    sec.send({ t: 'heartbeat', icount: 1 });
    expect(await got.next()).toEqual({ t: 'heartbeat', icount: 1 });
    // the main thread answers the heartbeat after the sync: an ack of the sync would come first
    p.send({ t: 'sync', icount: 9 });
    p.send({ t: 'heartbeat', icount: 9 });
    expect(await got.next()).toEqual({ t: 'heartbeat', icount: 9 });
  });

  it('no acks while the main thread has sent nothing for hangMs (a hung main thread must not look alive)', async () => {
    const s = await server();
    cleanups.push(() => s.srv.close());
    const [p, sec] = await Promise.all([s.srv.accept(), mod.connectFtThread({ ...ident, hostId: 'host-s', port: s.srv.port, auxLabel: AUX, hangMs: 300 })]);
    cleanups.push(() => { sec.abort(); p.abort(); });
    const got = inbox(p);
    sec.onMessage((m) => { if (m.t === 'heartbeat') sec.send({ t: 'heartbeat', icount: m.icount }); });
    await new Promise((r) => setTimeout(r, 600)); // silent main thread: longer than hangMs
    p.send({ t: 'sync', icount: 3 });
    p.send({ t: 'heartbeat', icount: 3 });
    expect(await got.next()).toEqual({ t: 'heartbeat', icount: 3 }); // no ack before it
    // the main thread just spoke: the next mark is acked
    p.send({ t: 'sync', icount: 4 });
    expect(await got.next()).toEqual({ t: 'ack', icount: 4 });
  });

  it('closed resolves after every message read before the end was delivered', async () => {
    const { p, sec } = await pair();
    let n = 0;
    sec.onMessage((m) => { if (m.t === 'log') n++; });
    for (let i = 0; i < 200; i++) p.send({ t: 'log', bytes: new Uint8Array(1000).fill(i) });
    p.close({ reason: 'done', status: 7 });
    const why = await sec.closed;
    expect(why.code).toBe('BYE');
    expect(n).toBe(200);
    expect(sec.threadFailure).toBeUndefined();
  });

  it('a wrong secret is refused (AUTH), and nothing connects', async () => {
    const s = await server();
    cleanups.push(() => s.srv.close());
    const bad = new Uint8Array(32).fill(9);
    const e = await mod.connectFtThread({ ...ident, secret: bad, hostId: 'host-s', port: s.srv.port, auxLabel: AUX }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as ProtocolError).code).toBe('AUTH');
    expect((await s.nextReject()).code).toBe('AUTH');
  });

  it('a dead channel thread ends the channel with RESET and says so (threadFailure)', async () => {
    const { p, sec } = await pair();
    await (sec as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    const why = await sec.closed;
    expect(why.code).toBe('RESET');
    expect(sec.threadFailure).toMatch(/channel thread exited/);
    expect((await p.closed).code).not.toBe('BYE');
  });
});

describe('channel thread (primary side: listenFtThread)', () => {
  it('acks into shared memory before any handler runs, messages in order, back-pressure, a refused host, a dead thread', async () => {
    const rejects: string[] = [];
    const srv = await mod.listenFtThread({ ...ident, hostId: 'host-p', auxLabel: AUX, requireGeneration: true,
      refuseHostId: { hostId: 'host-p', reason: 'same host' }, onReject: (e) => rejects.push(e.message) });
    cleanups.push(() => srv.close());
    // the secondary on the primary's host is refused by the thread
    expect((await connectFt({ ...ident, hostId: 'host-p', port: srv.port }).catch((e: unknown) => e as ProtocolError)).code).toBe('WRONG_PEER');
    const [s, p] = await Promise.all([connectFt({ ...ident, hostId: 'host-s', port: srv.port }), srv.accept()]);
    cleanups.push(() => { s.abort(); p.abort(); });
    expect(p.peerHostId).toBe('host-s');
    expect(p.auxKeys(AUX).tag).toEqual(s.auxKeys(AUX).tag);
    expect(p.ackedNow()).toBe(-1);
    s.send({ t: 'ack', icount: 2 ** 40 + 5 }); // past 32 bits: both halves
    const t0 = Date.now();
    while (p.ackedNow() < 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 1));
    expect(p.ackedNow()).toBe(2 ** 40 + 5);
    const seen: FtMessage[] = [];
    s.send({ t: 'heartbeat', icount: 1 });
    const two = new Promise<void>((r) => p.onMessage((m) => { seen.push(m); if (seen.length === 2) r(); }));
    await two;
    expect(seen).toEqual([{ t: 'ack', icount: 2 ** 40 + 5 }, { t: 'heartbeat', icount: 1 }]);
    // P -> S in order; above the high-water mark (S not reading) send() says so and drained() waits
    s.pause();
    let full = false;
    for (let i = 0; i < 64 && !full; i++) full = !p.send({ t: 'log', bytes: new Uint8Array(256 << 10).fill(i) });
    const t1 = Date.now();
    while (!full && Date.now() - t1 < 5000) { await new Promise((r) => setTimeout(r, 5)); full = p.queuedBytes > (1 << 20); }
    expect(full).toBe(true);
    let drained = false;
    void p.drained().then(() => { drained = true; });
    let n = 0;
    s.onMessage((m) => { if (m.t === 'log') expect(m.bytes[0]).toBe(n++); });
    s.resume();
    while (!drained && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 5));
    expect(drained).toBe(true);
    // a dead thread: the connection ends with RESET (threadFailure), accept() rejects, the owner is told
    await (srv as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    expect((await p.closed).code).toBe('RESET');
    expect(p.threadFailure).toMatch(/channel thread exited/);
    expect(srv.threadFailure).toMatch(/channel thread exited/);
    expect(((await srv.accept().catch((e: unknown) => e)) as ProtocolError).code).toBe('RESET');
    expect((await s.closed).code).not.toBe('BYE');
    expect(rejects.join()).toMatch(/same host/);
  });
});

