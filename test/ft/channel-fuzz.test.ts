// Random and mutated bytes into every decoder of the channel: the only outcome is a ProtocolError
// with a known code (never another exception, never an accepted malformed message).

import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { CONSOLE_KINDS } from '../../src/ft/console-service.js';
import { checkPreamble, decodeHandshakeFrame, decodeMessage, encodeHandshakeFrame, encodeMessage, FT_KINDS, freshNonce, ProtocolError } from '../../src/ft/protocol.js';

const CODES = new Set(['MALFORMED', 'UNKNOWN_KIND', 'VERSION']);

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

function outcome(f: () => unknown): 'ok' | string {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    if (!CODES.has(e.code)) throw new Error(`unexpected code ${e.code}: ${e.message}`);
    return e.code;
  }
}

describe('channel decoders under random input', () => {
  const seeds: Uint8Array[] = [
    ...[
      { t: 'log', bytes: new Uint8Array(300).fill(7) },
      { t: 'sync', icount: 5 },
      { t: 'release', marks: { console: 3, disk0: 9 } },
      { t: 'divergence', icount: 1, message: 'x' },
      { t: 'bye', reason: 'r', status: 2 },
    ].map((m) => Buffer.concat(encodeMessage(m))),
    new Packr({ useRecords: false }).pack({ t: 'input', offset: 3, bytes: new Uint8Array([1, 2]) }),
    encodeHandshakeFrame({ h: 'hello', vm: 'v', generation: 1, hostId: 'h', role: 'secondary', nonce: freshNonce() }).subarray(4),
  ];

  it('10,000 mutated and random payloads give a message or a ProtocolError, nothing else', () => {
    const r = rng(12345);
    const seen = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      let b: Uint8Array;
      if (i % 4 === 0) {
        b = new Uint8Array(1 + r(64));
        for (let j = 0; j < b.length; j++) b[j] = r(256);
      } else {
        b = Uint8Array.from(seeds[r(seeds.length)]!);
        for (let k = 1 + r(4); k > 0; k--) b[r(b.length)] = r(256);
        if (r(8) === 0) b = b.subarray(0, r(b.length));
      }
      for (const f of [() => decodeMessage(b, FT_KINDS), () => decodeMessage(b, CONSOLE_KINDS), () => decodeHandshakeFrame(b)]) {
        const o = outcome(f);
        seen.set(o, (seen.get(o) ?? 0) + 1);
      }
      if (b.length >= 10) outcome(() => checkPreamble(b));
    }
    // Both outcomes happen: the mutations are not all rejected trivially, nor all accepted.
    expect(seen.get('ok') ?? 0).toBeGreaterThan(100);
    expect(seen.get('MALFORMED') ?? 0).toBeGreaterThan(100);
  });

  it('a decoded message has exactly the fields of its kind (nothing smuggled through)', () => {
    const m = decodeMessage(new Packr({ useRecords: false }).pack({ t: 'ack', icount: 4, extra: 'x', __proto__: { polluted: 1 } }), FT_KINDS);
    expect(m).toStrictEqual({ t: 'ack', icount: 4 });
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });
});
