// The P<->S channel over real loopback sockets: every message kind, and every way a peer can be
// wrong (secret, version, VM, role, replayed / reordered / injected / corrupted / oversized / cut
// frames, garbage, a slow handshake). Each bad case asserts the error code and that the server
// goes on serving a good secondary.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFt, connectSecure, type FtPeer, type SecureServer } from '../../src/ft/channel.js';
import {
  checkPreamble,
  decodeMessage,
  encodeHandshakeFrame,
  encodeMessage,
  encodePreamble,
  FT_PROTOCOL_VERSION,
  FT_KINDS,
  freshNonce,
  PREAMBLE_BYTES,
  ProtocolError,
  type FtMessage,
  type KindTable,
} from '../../src/ft/protocol.js';
import { ident, mitm, rawClient, secret, server } from './channel-helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function started(extra: Parameters<typeof server>[0] = {}) {
  const s = await server(extra);
  cleanups.push(() => s.srv.close());
  return s;
}

/** Messages a peer receives, awaitable one by one. */
function inbox(peer: FtPeer): { next(): Promise<FtMessage>; all: FtMessage[] } {
  const all: FtMessage[] = [];
  const waiters: ((m: FtMessage) => void)[] = [];
  let taken = 0;
  peer.onMessage((m) => {
    all.push(m);
    const w = waiters.shift();
    if (w) {
      taken++;
      w(m);
    }
  });
  return {
    all,
    next() {
      if (all.length > taken) return Promise.resolve(all[taken++]!);
      return new Promise((r) => waiters.push(r));
    },
  };
}

async function pair(srv: SecureServer<FtMessage>, extra: Partial<Parameters<typeof connectFt>[0]> = {}): Promise<{ p: FtPeer; s: FtPeer }> {
  const accepted = srv.accept();
  const s = await connectFt({ ...ident, hostId: 'host-s', port: srv.port, ...extra });
  const p = await accepted;
  cleanups.push(() => {
    p.abort();
    s.abort();
  });
  return { p, s };
}

/** The server still admits a good secondary and carries a message both ways. */
async function stillServes(srv: SecureServer<FtMessage>): Promise<void> {
  const { p, s } = await pair(srv);
  const ps = inbox(s);
  const sp = inbox(p);
  p.send({ t: 'sync', icount: 42 });
  s.send({ t: 'ack', icount: 42 });
  expect(await ps.next()).toEqual({ t: 'sync', icount: 42 });
  expect(await sp.next()).toEqual({ t: 'ack', icount: 42 });
}

async function expectCode<T>(p: Promise<T>, code: string): Promise<ProtocolError> {
  const e = await p.then(
    () => {
      throw new Error(`expected ProtocolError ${code}, got success`);
    },
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ProtocolError);
  expect((e as ProtocolError).code).toBe(code);
  return e as ProtocolError;
}

/** A secondary connected through a man-in-the-middle proxy that rewrites its frames. */
async function proxied(rewrite: Parameters<typeof mitm>[1], extra: Parameters<typeof server>[0] = {}, tap?: (b: Buffer) => void): Promise<{ p: FtPeer; s: FtPeer; srv: SecureServer<FtMessage> }> {
  const { srv } = await started(extra);
  const proxy = await mitm(srv.port, rewrite, tap);
  cleanups.push(() => proxy.close());
  const accepted = srv.accept();
  const s = await connectFt({ ...ident, hostId: 'host-s', port: proxy.port });
  cleanups.push(() => s.abort());
  const p = await accepted;
  cleanups.push(() => p.abort());
  return { p, s, srv };
}

describe('FT channel: messages', () => {
  it('carries every message kind both ways, in order, with the peer identity', async () => {
    const { srv } = await started();
    const { p, s } = await pair(srv);
    expect([p.peerHostId, p.peerRole, p.peerVm, p.peerGeneration]).toEqual(['host-s', 'secondary', 'vm1', 3]);
    expect([s.peerHostId, s.peerRole, s.peerVm, s.peerGeneration]).toEqual(['host-p', 'primary', 'vm1', 3]);
    const atS = inbox(s);
    const atP = inbox(p);
    const big = new Uint8Array(randomBytes(300_000));
    const toS: FtMessage[] = [
      { t: 'log', bytes: new Uint8Array([1, 2, 3]) },
      { t: 'log', bytes: big },
      { t: 'sync', icount: 2 ** 40 + 7 },
      { t: 'release', marks: { console: 12, disk0: 3, net0: 0 } },
      { t: 'heartbeat', icount: 99 },
    ];
    const toP: FtMessage[] = [
      { t: 'ack', icount: 2 ** 40 + 7 },
      { t: 'heartbeat', icount: 5 },
      { t: 'divergence', icount: 1234, message: 'digest mismatch at 1234: rax' },
    ];
    for (const m of toS) p.send(m);
    for (const m of toP) s.send(m);
    for (const m of toS) {
      const got = await atS.next();
      if (m.t === 'log' && got.t === 'log') expect(Buffer.compare(got.bytes, m.bytes)).toBe(0); // toEqual on 300 kB is slow
      else expect(got).toEqual(m);
    }
    for (const m of toP) expect(await atP.next()).toEqual(m);
    p.close({ reason: 'guest ended', status: 3 });
    expect(await atS.next()).toEqual({ t: 'bye', reason: 'guest ended', status: 3 });
    expect((await s.closed).code).toBe('BYE');
    expect((await p.closed).code).toBe('LOCAL');
  });

  it('splits a log chunk larger than a frame and the receiver gets every byte in order', async () => {
    const { srv } = await started({ maxFrameBytes: 8192 });
    const { p, s } = await pair(srv, { maxFrameBytes: 8192 });
    const atS = inbox(s);
    const bytes = new Uint8Array(randomBytes(100_000));
    p.send({ t: 'log', bytes });
    p.send({ t: 'sync', icount: 1 });
    const parts: Uint8Array[] = [];
    for (;;) {
      const m = await atS.next();
      if (m.t === 'sync') break;
      expect(m.t).toBe('log');
      parts.push((m as { bytes: Uint8Array }).bytes);
    }
    expect(parts.length).toBeGreaterThan(10);
    expect(Buffer.concat(parts).equals(Buffer.from(bytes))).toBe(true);
  });

  it('a log message is exactly msgpackr’s encoding (zero-copy prefix + bytes)', () => {
    const bytes = new Uint8Array(randomBytes(5000));
    const parts = encodeMessage({ t: 'log', bytes });
    expect(parts.length).toBe(2);
    expect(parts[1]).toBe(bytes);
    const m = decodeMessage(Buffer.concat(parts), FT_KINDS) as { t: string; bytes: Uint8Array };
    expect(m.t).toBe('log');
    expect(Buffer.from(m.bytes).equals(Buffer.from(bytes))).toBe(true);
  });

  it('shows back-pressure: queued bytes grow while the socket is full and drain to zero', async () => {
    const { srv } = await started();
    const { p, s } = await pair(srv, {});
    let got = 0;
    s.onMessage((m) => {
      if (m.t === 'log') got += m.bytes.length;
    });
    const chunk = new Uint8Array(1 << 20);
    let sawFalse = false;
    let maxQueued = 0;
    for (let i = 0; i < 16; i++) {
      if (!p.send({ t: 'log', bytes: chunk })) sawFalse = true;
      maxQueued = Math.max(maxQueued, p.queuedBytes);
    }
    expect(sawFalse).toBe(true);
    expect(maxQueued).toBeGreaterThan(1 << 20);
    await p.drained();
    expect(p.queuedBytes).toBe(0);
    await expect.poll(() => got, { timeout: 20_000 }).toBe(16 << 20);
  });

  it('pause() stops delivery and holds the sender back through TCP; resume() delivers the rest in order', async () => {
    const { srv } = await started();
    const { p, s } = await pair(srv);
    const got: number[] = [];
    s.onMessage((m) => {
      if (m.t === 'sync') got.push(m.icount);
    });
    s.pause();
    expect(s.isPaused).toBe(true);
    const filler = new Uint8Array(1 << 20);
    for (let i = 1; i <= 64; i++) {
      p.send({ t: 'log', bytes: filler });
      p.send({ t: 'sync', icount: i });
    }
    // The kernel buffers (up to tcp_rmem + tcp_wmem, 36 MiB here) fill up; the sender sees the rest as queued.
    await expect.poll(() => p.queuedBytes, { timeout: 10_000 }).toBeGreaterThan(4 << 20);
    const before = got.length;
    expect(before).toBe(0);
    s.resume();
    await expect.poll(() => got.length, { timeout: 20_000 }).toBe(64);
    expect(got).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    await p.drained();
    expect(p.queuedBytes).toBe(0);
  });

  it('a peer that vanishes without bye ends the channel (CLOSED or RESET), never the process', async () => {
    const { srv } = await started();
    const { p, s } = await pair(srv);
    s.abort();
    expect(['CLOSED', 'RESET']).toContain((await p.closed).code);
    expect(p.send({ t: 'sync', icount: 1 })).toBe(false);
    await stillServes(srv);
  });
});

describe('FT channel: who may join', () => {
  it('a wrong secret is refused on both sides (AUTH)', async () => {
    const { srv, nextReject } = await started();
    const e = await expectCode(connectFt({ ...ident, secret: new Uint8Array(randomBytes(32)), hostId: 'x', port: srv.port }), 'AUTH');
    expect(e.message).toMatch(/cluster secret/);
    expect((await nextReject()).code).toBe('AUTH');
    await stillServes(srv);
  });

  it('no secret: the library refuses to connect (CONFIG); a hand-made client with an empty proof is refused (AUTH)', async () => {
    const { srv, nextReject } = await started();
    await expectCode(connectFt({ ...ident, secret: new Uint8Array(0), hostId: 'x', port: srv.port }), 'CONFIG');
    const c = await rawClient(srv.port);
    c.sock.write(encodePreamble());
    c.sock.write(encodeHandshakeFrame({ h: 'hello', vm: 'vm1', generation: 3, hostId: 'x', role: 'secondary', nonce: freshNonce() }));
    c.sock.write(encodeHandshakeFrame({ h: 'proof', mac: new Uint8Array(0) }));
    expect((await nextReject()).code).toBe('AUTH');
    await c.ended;
    expect(c.received().includes(Buffer.from('refuse'))).toBe(true);
    await stillServes(srv);
  });

  it('another protocol version is refused with a message naming both versions', async () => {
    const { srv, nextReject } = await started();
    const c = await rawClient(srv.port);
    const other = FT_PROTOCOL_VERSION + 1;
    c.sock.write(encodePreamble(other));
    const e = await nextReject();
    expect(e.code).toBe('VERSION');
    expect(e.message).toMatch(new RegExp(`version ${other}.*version ${FT_PROTOCOL_VERSION}`));
    await c.ended;
    // The old/new peer reads our preamble (its layout never changes) and can say the same.
    expect(() => checkPreamble(c.received().subarray(0, PREAMBLE_BYTES), other)).toThrow(new RegExp(`version ${FT_PROTOCOL_VERSION}, this side speaks version ${other}`));
    await stillServes(srv);
  });

  it('a secondary for another VM, or with the wrong role, is refused (WRONG_PEER)', async () => {
    const { srv, nextReject } = await started();
    const e = await expectCode(connectFt({ ...ident, vm: 'other', hostId: 'x', port: srv.port }), 'WRONG_PEER');
    expect(e.message).toMatch(/'other'|'vm1'/);
    expect((await nextReject()).code).toBe('WRONG_PEER');
    await expectCode(connectSecure({ ...ident, hostId: 'x', port: srv.port }, { role: 'primary', peerRole: 'primary' }, FT_KINDS), 'WRONG_PEER');
    expect((await nextReject()).message).toMatch(/role 'primary', expected 'secondary'/);
    await stillServes(srv);
  });

  it('the acceptPeer hook can refuse a peer (e.g. a secondary on the primary’s host)', async () => {
    const { srv, nextReject } = await started({ acceptPeer: (h) => (h.hostId === 'host-p' ? `secondary on the primary's host ${h.hostId}` : undefined) });
    await expectCode(connectFt({ ...ident, hostId: 'host-p', port: srv.port }), 'WRONG_PEER');
    expect((await nextReject()).message).toMatch(/primary's host/);
    await stillServes(srv);
  });

  it('a slow-loris handshake times out (HANDSHAKE_TIMEOUT) while a good secondary joins meanwhile', async () => {
    const { srv, nextReject } = await started({ handshakeTimeoutMs: 400 });
    const c = await rawClient(srv.port);
    const pre = encodePreamble();
    let i = 0;
    const drip = setInterval(() => {
      if (i < pre.length) c.sock.write(pre.subarray(i, ++i));
    }, 100);
    cleanups.push(() => clearInterval(drip));
    await stillServes(srv);
    expect((await nextReject()).code).toBe('HANDSHAKE_TIMEOUT');
    await c.ended;
  });

  it('more silent connections than maxHandshakes are refused at once (BUSY); the server serves again after they time out', async () => {
    const { srv, nextReject } = await started({ maxHandshakes: 2, handshakeTimeoutMs: 300 });
    const silent = [await rawClient(srv.port), await rawClient(srv.port)];
    const third = await rawClient(srv.port);
    expect((await nextReject()).code).toBe('BUSY');
    await third.ended;
    expect((await nextReject()).code).toBe('HANDSHAKE_TIMEOUT');
    expect((await nextReject()).code).toBe('HANDSHAKE_TIMEOUT');
    await Promise.all(silent.map((c) => c.ended));
    await stillServes(srv);
  });

  it('garbage instead of a handshake is MALFORMED; a huge handshake length is TOO_LARGE', async () => {
    const { srv, nextReject } = await started();
    const c = await rawClient(srv.port);
    c.sock.write(randomBytes(64));
    expect((await nextReject()).code).toBe('MALFORMED');
    const d = await rawClient(srv.port);
    d.sock.write(encodePreamble());
    d.sock.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect((await nextReject()).code).toBe('TOO_LARGE');
    const e = await rawClient(srv.port);
    e.sock.write(encodePreamble());
    e.sock.end(Buffer.from([0, 0, 0, 50, 1, 2]));
    expect(['TRUNCATED', 'CLOSED']).toContain((await nextReject()).code);
    await stillServes(srv);
  });
});

describe('FT channel: tampered frames (a man in the middle)', () => {
  /** Connect S through a proxy that rewrites S's frames; return the server side's close reason. */
  async function tampered(rewrite: Parameters<typeof mitm>[1], send: (s: FtPeer) => void, extra = {}): Promise<{ code: string; message: string; srv: SecureServer<FtMessage>; got: FtMessage[] }> {
    const { p, s, srv } = await proxied(rewrite, extra);
    const got: FtMessage[] = [];
    p.onMessage((m) => got.push(m));
    send(s);
    const reason = await p.closed;
    return { code: reason.code, message: reason.message, srv, got };
  }
  const acks = (s: FtPeer): void => {
    for (let i = 1; i <= 4; i++) s.send({ t: 'ack', icount: i });
  };

  it('a replayed frame is refused (SEQUENCE) after the genuine ones were delivered', async () => {
    const r = await tampered((f, i) => (i === 1 ? [f, f] : [f]), acks);
    expect(r.code).toBe('SEQUENCE');
    expect(r.message).toMatch(/sequence number 1, expected 2/);
    expect(r.got).toEqual([{ t: 'ack', icount: 1 }, { t: 'ack', icount: 2 }]);
    await stillServes(r.srv);
  });

  it('reordered frames are refused (SEQUENCE) and nothing out of order is delivered', async () => {
    let held: Buffer | undefined;
    const r = await tampered((f, i) => {
      if (i === 1) {
        held = f;
        return [];
      }
      if (i === 2) return [f, held!];
      return [f];
    }, acks);
    expect(r.code).toBe('SEQUENCE');
    expect(r.got).toEqual([{ t: 'ack', icount: 1 }]);
    await stillServes(r.srv);
  });

  it('an injected frame (no session key) is refused (BAD_MAC)', async () => {
    const r = await tampered((f, i) => {
      if (i !== 1) return [f];
      const forged = Buffer.from(f);
      const payload = Buffer.from(encodeMessage({ t: 'ack', icount: 999_999 })[0]!);
      forged.writeUInt32BE(payload.length, 0);
      return [Buffer.concat([forged.subarray(0, 44), payload]), f];
    }, acks);
    expect(r.code).toBe('BAD_MAC');
    expect(r.got).toEqual([{ t: 'ack', icount: 1 }]);
    await stillServes(r.srv);
  });

  it('a frame reflected back to its sender is refused there (BAD_MAC: each direction has its own key)', async () => {
    const { s } = await proxied((f, i, toClient) => {
      if (i === 0) toClient(f); // S's own first frame (seq 0, the seq S expects from P) sent back to S
      return [f];
    });
    s.send({ t: 'ack', icount: 1 });
    expect((await s.closed).code).toBe('BAD_MAC');
  });

  it('a corrupted HMAC or payload byte is refused (BAD_MAC)', async () => {
    const flip = (at: (f: Buffer) => number) => (f: Buffer, i: number) => {
      if (i === 2) f[at(f)]! ^= 0x01;
      return [f];
    };
    const mac = await tampered(flip(() => 20), acks);
    expect(mac.code).toBe('BAD_MAC');
    expect(mac.got.length).toBe(2);
    const body = await tampered(flip((f) => f.length - 1), acks);
    expect(body.code).toBe('BAD_MAC');
    await stillServes(body.srv);
  });

  it('an oversized frame is refused (TOO_LARGE) before its body is read', async () => {
    const r = await tampered((f) => [f], (s) => s.send({ t: 'log', bytes: new Uint8Array(10_000) }), { maxFrameBytes: 4096 });
    expect(r.code).toBe('TOO_LARGE');
    expect(r.message).toMatch(/maximum of 4096/);
    await stillServes(r.srv);
  });

  it('a connection cut inside a frame is TRUNCATED', async () => {
    const r = await tampered((f, i) => (i === 1 ? [f.subarray(0, 30)] : i > 1 ? [] : [f]), (s) => {
      acks(s);
      setTimeout(() => s.abort(), 200);
    });
    expect(r.code).toBe('TRUNCATED');
    expect(r.got).toEqual([{ t: 'ack', icount: 1 }]);
    await stillServes(r.srv);
  });

  it('garbage bytes after the handshake end the connection with a typed error', async () => {
    const junk = Buffer.concat([Buffer.from([0, 0, 0, 16]), randomBytes(60)]);
    const r = await tampered((f, i) => (i === 1 ? [junk] : [f]), acks);
    expect(r.code).toBe('BAD_MAC');
    await stillServes(r.srv);
  });
});

describe('FT channel: authenticated but wrong messages', () => {
  it('an unknown kind is UNKNOWN_KIND; an ill-typed field is MALFORMED', async () => {
    type Odd = { t: 'teleport'; x: number } | { t: 'ack'; icount: unknown };
    const odd: KindTable<Odd> = { teleport: () => ({ t: 'teleport', x: 1 }), ack: () => ({ t: 'ack', icount: 0 }) };
    for (const [msg, code] of [
      [{ t: 'teleport', x: 1 }, 'UNKNOWN_KIND'],
      [{ t: 'ack', icount: 'soon' }, 'MALFORMED'],
    ] as const) {
      const { srv } = await started();
      const accepted = srv.accept();
      const s = await connectSecure({ ...ident, hostId: 'host-s', port: srv.port }, { role: 'secondary', peerRole: 'primary' }, odd);
      cleanups.push(() => s.abort());
      const p = await accepted;
      s.send(msg as Odd);
      expect((await p.closed).code).toBe(code);
      await stillServes(srv);
    }
  });

  it('sending a kind the channel does not carry throws at once (a caller bug)', async () => {
    const { srv } = await started();
    const { p } = await pair(srv);
    expect(() => p.send({ t: 'nope' } as unknown as FtMessage)).toThrow(ProtocolError);
  });

  it('the secret is never on the wire (handshake and messages, both directions)', async () => {
    let seen = Buffer.alloc(0);
    const { p, s } = await proxied((f) => [f], {}, (b) => (seen = Buffer.concat([seen, b])));
    const atP = inbox(p);
    s.send({ t: 'ack', icount: 1 });
    await atP.next();
    expect(seen.length).toBeGreaterThan(200); // preambles, hellos, proofs, the ack
    expect(seen.includes(Buffer.from(secret))).toBe(false);
    expect(seen.includes(Buffer.from(secret.subarray(0, 8)))).toBe(false);
  });
});
