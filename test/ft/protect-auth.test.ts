// Attacks on a running protected VM (real processes): a client without the cluster secret, or with
// a wrong one, cannot join the P<->S channel (so cannot inject, ack or heartbeat) nor read or type
// on the console; garbage on either port ends that connection only. The primary keeps running: the
// console and the disk still equal an uninterrupted run's byte for byte, and no failover happened.

import { describe, it, expect, beforeAll } from 'vitest';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { connectFt } from '../../src/ft/channel.js';
import { ConsoleClient } from '../../src/ft/console-service.js';
import { ProtocolError } from '../../src/ft/protocol.js';
import { protectRun, type Outcome } from './protect-harness.js';
import { demoReference, expectSameAsReference as same } from './protect-expect.js';

let elf: string;
let ref: Outcome;

beforeAll(async () => {
  ({ elf, ref } = await demoReference());
});

function hostPort(addr: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(addr)!;
  return { host: m[1]!, port: Number(m[2]) };
}

/** Sends bytes on a raw TCP connection and resolves when the other side closes it. */
function garbage(addr: string, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(hostPort(addr), () => s.write(bytes));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.resume();
  });
}

describe('protect: clients without the secret', () => {
  it('cannot join the channel or use the console; bad input ends only that connection; the VM runs on unharmed', async () => {
    const seen: string[] = [];
    const r = await protectRun({
      elf,
      whileProtected: async (rec) => {
        const chan = hostPort(rec.primary!.addr!);
        for (const secret of [randomBytes(32), Buffer.alloc(32)]) {
          // a would-be secondary (it could ack, heartbeat or send a divergence once joined)
          const err = await connectFt({ secret, vm: 'default', hostId: 'intruder', generation: rec.generation, ...chan }).then(
            (p) => { p.abort('should not have joined'); return undefined; },
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(ProtocolError);
          seen.push((err as ProtocolError).code);
          // a console client: may neither read nor type
          let got = 0;
          const c = new ConsoleClient({ secret, vm: 'default', hostId: 'intruder', locate: async () => hostPort(rec.consoleAddr!), onOutput: (b) => (got += b.length) });
          c.type(Buffer.from('quit\n'));
          const end = await c.done;
          expect(end.kind).toBe('error');
          if (end.kind === 'error') seen.push(end.error.code);
          expect(got).toBe(0);
        }
        // garbage, an oversized length and a cut handshake on both ports, all at once (the VM holds its end, so
        // both ports are live: a cut preamble or handshake is dropped at the 5 s handshake deadline, one after
        // another that was 20 s)
        await Promise.all([rec.primary!.addr!, rec.consoleAddr!].flatMap((addr) => [
          garbage(addr, randomBytes(4096)),
          garbage(addr, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])),
          garbage(addr, Buffer.from([0, 0, 0, 40, 1])),
        ]));
      },
    });
    expect(seen.every((c) => c === 'AUTH'), seen.join(',')).toBe(true);
    expect(seen.length).toBe(4);
    same(r, ref);
    expect(r.claims).toEqual(['local-a']); // no failover: the primary and the pair were never disturbed
    expect(r.record?.failovers).toBe(0);
  }, 300_000); // a hang guard: protectRun bounds the wait for protection (150 s) and the run (240 s)
});
