// The NIC moves with the primary (FT.md "Console, input and network, exactly once"): the dev_net
// guest (its own virtio-net driver) answers requests in raw Ethernet frames over the VM's UDP tunnel
// (`--net udp:LPORT:127.0.0.1:PPORT`); the peer is a real UDP socket in this test. Transmitted frames
// are outputs (released under the Output Rule), received frames are logged inputs. The primary is
// SIGKILLed mid-exchange; the secondary binds the tunnel endpoint at go-live and answers from there.
// Like a TCP peer, the test resends a request it got no answer to (each send is a distinct datagram,
// "PING k a" for attempt a, which the guest echoes as "PONG k a"). Checked against the history (the
// generation logs replayed as one chain, every transmitted frame observed):
// - no frame released is lost: the peer received every frame of the history, in order; the only
//   repeat allowed is FT.md's, frames re-issued by the new primary after the last release mark (one
//   rewind of the sequence at the failover);
// - a datagram sent to the guest is delivered at most once (its "rx" console line appears at most once),
//   and every request got its answer;
// - the console file equals the chain replay's console, and the chain replays identical.

import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { openControl } from '../../src/ft/control.js';
import { FT, caseDir, guestElf, replayChain, role } from './role-harness.js';
import { GUEST_MAC, PEER_MAC, bindUdp, frame, freePort } from '../devices-guests/udp-peer.js';

const REQUESTS = 24, KILL_AFTER = 8;
/** Resend an unanswered request after this long (a retransmit only adds a distinct datagram: no assertion depends on it). */
const RESEND_MS = 1000;

/**
 * `got` must be `want` with at most one rewind (frames want[b..a) received twice: re-issued after
 * the failover). Returns the number of repeated frames, or throws naming the first mismatch.
 */
function matchWithOneRewind(got: string[], want: string[]): number {
  let i = 0, j = 0, repeated = -1;
  while (i < got.length) {
    if (j < want.length && got[i] === want[j]) { i++; j++; continue; }
    const back = repeated < 0 && j > 0 ? want.lastIndexOf(got[i]!, j - 1) : -1;
    if (back < 0) throw new Error(`received frame ${i} '${got[i]}' is not the history's next frame '${want[j] ?? '(none)'}'`);
    repeated = j - back;
    j = back;
  }
  if (j !== want.length) throw new Error(`the history's frame ${j} '${want[j]}' (and ${want.length - j - 1} more) never reached the peer`);
  return Math.max(repeated, 0);
}

let elf: string;
beforeAll(() => { elf = guestElf('dev_net'); });

describe('the NIC moves with the primary (dev_net, real UDP peer, SIGKILL of the primary)', () => {
  it('every released frame reaches the peer in order (repeats only as a re-issue), each datagram to the guest is delivered at most once', async () => {
    const c = caseDir('netfo');
    const peer = await bindUdp();
    const pport = peer.address().port;
    const lport = await freePort();
    peer.on('error', () => { /* nobody bound during the failover: the datagram is lost, as on a network */ });
    const received: string[] = [];
    let wake: (() => void) | undefined;
    peer.on('message', (m, rinfo) => {
      if (rinfo.port !== lport || m.length < 14) return;
      received.push(m.subarray(14).toString('latin1'));
      wake?.();
    });
    const sent: string[] = [];
    const send = (text: string): Promise<void> => { sent.push(text); return new Promise((r) => peer.send(frame(GUEST_MAC, text), lport, '127.0.0.1', () => r())); };
    const net = ['--net', `udp:${lport}:127.0.0.1:${pport}`];
    const p = role(['ft', 'primary', elf, '--control', `dir:${c.ctl}`, '--listen', '127.0.0.1:0', '--host-id', 'local-a',
      '--mem', '32M', '--console-file', c.consoleFile, ...net, ...FT], c.dir);
    const s = role(['ft', 'secondary', '--control', `dir:${c.ctl}`, '--host-id', 'local-b', ...FT], c.dir);
    const diag = (): string => `--- received:\n${received.join('\n')}\n--- primary:\n${p.err()}\n--- secondary:\n${s.err()}`;
    let over = false;
    void Promise.all([p.done, s.done]).then(() => { over = true; });
    /** Sends `req` (as "req a" for attempt a, unless `plain`) until an answer `answer(a')` for any attempt arrives. */
    const ask = async (req: string, answer: (a: number) => string, plain = false): Promise<void> => {
      for (let a = 1; ; a++) {
        await send(plain ? req : `${req} ${a}`);
        const until = Date.now() + RESEND_MS;
        while (Date.now() < until) {
          if (received.some((r) => Array.from({ length: a }, (_, k) => answer(k + 1)).includes(r))) return;
          if (over) throw new Error(`both roles ended before '${req}' was answered\n${diag()}`);
          await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
        }
        if (a > 60) throw new Error(`no answer to '${req}' after ${a} attempts\n${diag()}`);
      }
    };
    try {
      // the guest armed its receive queue (a released console line: the pair is running)
      for (let i = 0; !(existsSync(c.consoleFile) && readFileSync(c.consoleFile, 'latin1').includes('dev_net ready')); i++) {
        if (over || i > 3000) throw new Error(`the guest never got ready\n${diag()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      let killed = false;
      for (let k = 1; k <= REQUESTS; k++) {
        await ask(`PING ${k}`, (a) => `PONG ${k} ${a}`);
        if (k === KILL_AFTER) {
          const cp = await openControl(`dir:${c.ctl}`);
          try { expect((await cp.readVm('default'))?.primary?.pid).toBe(p.child.pid); } finally { await cp.close(); }
          p.child.kill('SIGKILL');
          killed = true;
        }
      }
      expect(killed).toBe(true);
      await ask('BYE', () => 'BYE', true); // the guest exits after its answer: a resent BYE meets nobody or a closed tunnel
      expect(await p.done).toBe(-1);
      expect(await s.done, diag()).toBe(0);
    } finally {
      p.child.kill('SIGKILL'); s.child.kill('SIGKILL');
      peer.close();
    }
    expect(s.err(), diag()).toMatch(/live at instruction \d+ as generation 2/);
    // the history: the generation logs replayed as one chain, every transmitted frame observed
    const chain = await replayChain(c.ctl, 'default', elf);
    expect(chain.report.outcome, `${diag()}\n${JSON.stringify(chain.report.divergence)}`).toBe('identical');
    expect(chain.info.links).toHaveLength(2);
    const history = chain.frames.map((f) => {
      // every transmitted frame goes to the peer, from the guest
      expect([...f.subarray(0, 6)]).toEqual(PEER_MAC);
      expect([...f.subarray(6, 12)]).toEqual(GUEST_MAC);
      return f.subarray(14).toString('latin1');
    });
    const repeated = matchWithOneRewind(received, history);
    const con = readFileSync(c.consoleFile);
    expect(con.equals(chain.console), `the console file is not the history's\n${diag()}`).toBe(true);
    // each datagram sent to the guest was delivered at most once (its 'rx' line), and answered once per delivery
    const rx = con.toString('latin1').split('\n').filter((l) => l.startsWith('rx ')).map((l) => l.slice(3));
    expect(new Set(rx).size, `a datagram was delivered twice:\n${rx.join('\n')}`).toBe(rx.length);
    for (const r of rx) expect(sent, `the guest got '${r}', which the peer never sent`).toContain(r);
    expect(history.filter((h) => h.startsWith('PONG'))).toEqual(rx.filter((r) => r.startsWith('PING')).map((r) => `PONG${r.slice(4)}`));
    expect(con.toString('latin1')).toContain(`bye: served ${rx.length} requests, ignored 0 frames`);
    // FT.md allows repeats of released frames only as the new primary's re-issue: a few at most, never the whole history
    expect(repeated).toBeLessThan(history.length);
  }, 120_000);
});
