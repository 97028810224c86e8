// dev_net: the guest's own virtio-net driver answers a request/response protocol in raw
// Ethernet frames (ethertype 0x88B5); the peer is a UDP socket on 127.0.0.1 at the other end of
// `--net udp:LPORT:127.0.0.1:PPORT`, one frame per datagram.

import { describe, it, expect } from 'vitest';
import { guestElf, runCli } from './helpers.js';
import { ETHERTYPE, GUEST_MAC, PEER_MAC, bindUdp, frame, freePort } from './udp-peer.js';

describe('dev_net guest (virtio-net driver, raw Ethernet request/response)', () => {
  for (const opt of ['O2', 'O0'] as const) {
    it(`answers PING/ADD/MAC/unknown and exits on BYE (-${opt})`, async () => {
      const peer = await bindUdp();
      const pport = peer.address().port;
      const lport = await freePort();
      const replies: Buffer[] = [];
      let notify: (() => void) | undefined;
      peer.on('message', (m, rinfo) => {
        if (rinfo.port !== lport) return;
        replies.push(m); notify?.();
      });
      const next = (timeoutMs = 30_000) => new Promise<Buffer>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no reply frame; guest stdout: ${run.stdout()} stderr: ${run.stderr()}`)), timeoutMs);
        const take = () => { if (replies.length) { clearTimeout(t); notify = undefined; res(replies.shift()!); } };
        notify = take; take();
      });
      const send = (f: Buffer) => new Promise<void>((r) => peer.send(f, lport, '127.0.0.1', () => r()));

      const run = runCli(guestElf('dev_net', opt), ['--net', `udp:${lport}:127.0.0.1:${pport}`, '--no-input']);
      try {
        // the whole line: console bytes reach stdout as the guest writes them, and a line can arrive in pieces
        await run.waitFor(/dev_net ready[^\n]*\n/);
        expect(run.stdout()).toMatch(/dev_net ready: .* mac 52:54:00:12:34:56\n/);
        const ask = async (f: Buffer): Promise<string> => {
          await send(f);
          const r = await next();
          // reply: to the peer, from the guest, ethertype 0x88B5
          expect([...r.subarray(0, 6)]).toEqual(PEER_MAC);
          expect([...r.subarray(6, 12)]).toEqual(GUEST_MAC);
          expect(r.readUInt16BE(12)).toBe(ETHERTYPE);
          return r.subarray(14).toString('latin1');
        };
        expect(await ask(frame(GUEST_MAC, 'PING 1'))).toBe('PONG 1');
        expect(await ask(frame(GUEST_MAC, 'ADD 2 40'))).toBe('SUM 42');
        expect(await ask(frame(GUEST_MAC, 'ADD -9000000000 1'))).toBe('SUM -8999999999');
        // frames the guest must ignore: another ethertype, another destination MAC
        await send(frame(GUEST_MAC, 'PING 666', 0x0800));
        await send(frame([0x02, 0, 0, 0, 0, 9], 'PING 667'));
        // broadcast is served; a minimum-size Ethernet payload is NUL-padded
        expect(await ask(frame([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'PING 2'))).toBe('PONG 2');
        expect(await ask(Buffer.concat([frame(GUEST_MAC, 'PING 3'), Buffer.alloc(40)]))).toBe('PONG 3');
        expect(await ask(frame(GUEST_MAC, 'MAC'))).toBe('MAC 52:54:00:12:34:56');
        expect(await ask(frame(GUEST_MAC, 'HELLO?'))).toBe('ERR HELLO?');
        // a burst: more requests than the guest has receive buffers (8), all answered in order
        for (let i = 0; i < 20; i++) await send(frame(GUEST_MAC, `PING ${100 + i}`));
        for (let i = 0; i < 20; i++) expect((await next()).subarray(14).toString('latin1')).toBe(`PONG ${100 + i}`);
        expect(await ask(frame(GUEST_MAC, 'BYE'))).toBe('BYE');
        expect(await run.done).toBe(0);
        expect(run.stdout()).toContain('rx PING 1\nrx ADD 2 40\n');
        expect(run.stdout()).not.toContain('666');
        expect(run.stdout()).toContain('bye: served 28 requests, ignored 2 frames');
      } finally {
        run.child.kill('SIGKILL');
        peer.close();
      }
    });
  }
});
