// The console service and its client over real loopback sockets, with a fake in-process owner (the
// protocol is what is under test; the end-to-end test with real roles comes with them). The owner
// models a deterministic guest: it consumes input into a shared history (what the secondary holds)
// and echoes it upper-cased as console output; a failover starts a new service from that history.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleClient, ConsoleService, type ConsoleEnd } from '../../src/ft/console-service.js';
import { secret } from './channel-helpers.js';

const enc = new TextEncoder();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What the pair has agreed on (the log the secondary holds): input consumed, console produced. */
class History {
  input: number[] = [];
  console: number[] = [];
}

/** A primary's stand-in: queues accepted input, and on step() lets the guest consume some of it. */
class Owner {
  queue: number[] = [];
  released = 0; // console bytes released (given to the service)
  svc!: ConsoleService;
  constructor(readonly h: History) {}

  static async start(h: History, released: number, confirmed: number, extra = {}): Promise<Owner> {
    const o = new Owner(h);
    o.svc = await ConsoleService.listen({
      secret,
      vm: 'vm1',
      hostId: 'host-p',
      generation: 1,
      consoleStart: released,
      readHistory: async (from, to) => new Uint8Array(h.console.slice(from, to)),
      inputStart: h.input.length,
      inputConfirmed: confirmed,
      onInput: (offset, bytes) => {
        expect(offset).toBe(h.input.length + o.queue.length); // each offset once, in order
        o.queue.push(...bytes);
      },
      ...extra,
    });
    o.released = released;
    cleanups.push(() => o.svc.close());
    return o;
  }

  /** The guest consumes n queued input bytes (they enter the history) and echoes them upper-cased. */
  consume(n: number): void {
    for (const b of this.queue.splice(0, n)) {
      this.h.input.push(b);
      this.h.console.push(b >= 0x61 && b <= 0x7a ? b - 32 : b);
    }
  }

  /** Release console output up to `to` and confirm input through `through` (the Output Rule says when; here the test does). */
  release(to: number, through: number): void {
    if (to > this.released) {
      this.svc.output(this.released, new Uint8Array(this.h.console.slice(this.released, to)));
      this.released = to;
    }
    this.svc.confirmInput(through);
  }
}

function client(at: () => ConsoleService, extra: Partial<ConstructorParameters<typeof ConsoleClient>[0]> = {}) {
  const out: number[] = [];
  const offsets: number[] = [];
  const c = new ConsoleClient({
    secret,
    vm: 'vm1',
    retryMs: 20,
    locate: async () => ({ port: at().port }),
    onOutput: (b, off) => {
      offsets.push(off);
      expect(off).toBe(out.length + (extra.from ?? 0)); // in order, never twice
      out.push(...b);
    },
    ...extra,
  });
  cleanups.push(() => c.close());
  return { c, out, offsets };
}

const until = (f: () => boolean) => expect.poll(f, { timeout: 10_000, interval: 5 }).toBe(true);

describe('console service', () => {
  it('echo round trip: input is delivered once, confirmed, and the output arrives in order', async () => {
    const h = new History();
    const o = await Owner.start(h, 0, 0);
    const { c, out } = client(() => o.svc);
    c.type(enc.encode('hi there'));
    await until(() => o.queue.length === 8);
    o.consume(8);
    o.release(8, 8);
    await until(() => out.length === 8 && c.inputPending === 0);
    expect(Buffer.from(out).toString()).toBe('HI THERE');
    expect(c.inputConfirmed).toBe(8);
  });

  it('resumes the output at the offset the client already has, reading older bytes from the history', async () => {
    const h = new History();
    h.console = [...enc.encode('0123456789abcdefghij')];
    const o = await Owner.start(h, 20, 0, { retainBytes: 4 });
    o.svc.output(20, enc.encode('KLMNOP')); // the service keeps only the last few bytes in memory
    const { out } = client(() => o.svc, { from: 7, input: false });
    await until(() => out.length === 19);
    expect(Buffer.from(out).toString()).toBe('789abcdefghijKLMNOP');
  });

  it('the guest ending sends the rest of the output, then bye with the status', async () => {
    const h = new History();
    const o = await Owner.start(h, 0, 0);
    const { c, out } = client(() => o.svc);
    h.console = [...enc.encode('last words')];
    o.release(10, 0);
    o.svc.end('guest halted', 7);
    const end: ConsoleEnd = await c.done;
    expect(end).toEqual({ kind: 'bye', reason: 'guest halted', status: 7 });
    expect(Buffer.from(out).toString()).toBe('last words');
  });

  it('one client holds the input; the next one gets it when the first leaves', async () => {
    const h = new History();
    const o = await Owner.start(h, 0, 0);
    const a = client(() => o.svc);
    await until(() => o.svc.clientCount === 1);
    const b = client(() => o.svc);
    await until(() => o.svc.clientCount === 2);
    a.c.type(enc.encode('a'));
    b.c.type(enc.encode('b'));
    await until(() => o.queue.length === 1);
    expect(String.fromCharCode(o.queue[0]!)).toBe('a');
    o.consume(1);
    o.release(1, 1);
    await until(() => a.c.inputPending === 0 && b.out.length === 1);
    a.c.close();
    await until(() => o.queue.length === 1);
    expect(String.fromCharCode(o.queue[0]!)).toBe('b'); // numbered after 'a'
    o.consume(1);
    o.release(2, 2);
    await until(() => b.c.inputPending === 0);
    expect(Buffer.from(h.input).toString()).toBe('ab');
  });

  it('input beyond maxUnconfirmedInput waits at the client and comes when the guest has consumed', async () => {
    const h = new History();
    const o = await Owner.start(h, 0, 0, { maxUnconfirmedInput: 4 });
    const { c } = client(() => o.svc);
    c.type(enc.encode('abcdefghij'));
    for (let done = 0; done < 10; ) {
      await until(() => o.queue.length === Math.min(4, 10 - done));
      expect(o.queue.length).toBeLessThanOrEqual(4);
      done += o.queue.length;
      o.consume(o.queue.length);
      o.release(h.console.length, h.input.length);
    }
    await until(() => c.inputPending === 0);
    expect(Buffer.from(h.input).toString()).toBe('abcdefghij');
  });

  it('a client with a wrong secret cannot read or type; the service goes on', async () => {
    const h = new History();
    const rejects: string[] = [];
    const o = await Owner.start(h, 0, 0, { onReject: (e: { code: string }) => rejects.push(e.code) });
    h.console = [...enc.encode('secret output')];
    o.release(13, 0);
    const bad = client(() => o.svc, { secret: new Uint8Array(randomBytes(32)) });
    bad.c.type(enc.encode('rm -rf /'));
    const end = await bad.c.done;
    expect(end.kind).toBe('error');
    expect((end as { error: { code: string } }).error.code).toBe('AUTH');
    expect(bad.out).toEqual([]);
    expect(o.queue).toEqual([]);
    expect(rejects).toContain('AUTH');
    const good = client(() => o.svc);
    await until(() => good.out.length === 13);
  });

  it('across failovers at random points no output or input byte is lost or doubled', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      let s = seed * 2654435761;
      const rnd = (n: number): number => {
        s = (s * 1103515245 + 12345) >>> 0;
        return (s >>> 8) % (n + 1);
      };
      const h = new History();
      const text = Array.from({ length: 40 }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed) % 26))).join('');
      let owner = await Owner.start(h, 0, 0);
      const { c, out } = client(() => owner.svc);
      let typed = 0;
      for (let gen = 0; gen < 4; gen++) {
        // Type some, let the guest consume part of what arrived, release part of what it produced.
        const n = rnd(text.length - typed);
        c.type(enc.encode(text.slice(typed, typed + n)));
        typed += n;
        await until(() => h.input.length + owner.queue.length === typed);
        owner.consume(rnd(owner.queue.length));
        const relConsole = owner.released + rnd(h.console.length - owner.released);
        const confirmed = Math.min(h.input.length, c.inputConfirmed + rnd(h.input.length - c.inputConfirmed));
        owner.release(relConsole, confirmed);
        await until(() => out.length === relConsole && c.inputConfirmed === confirmed);
        // The primary dies: accepted-but-unconsumed input and unreleased output are lost with it.
        await owner.svc.close();
        // The new primary starts from the history (what the secondary acked), re-issues the console after
        // the release mark, and confirms what the history consumed.
        const mark = relConsole;
        owner = await Owner.start(h, mark, confirmed);
        owner.release(h.console.length, h.input.length);
      }
      c.type(enc.encode(text.slice(typed)));
      await until(() => h.input.length + owner.queue.length === text.length);
      owner.consume(owner.queue.length);
      owner.release(h.console.length, h.input.length);
      await until(() => out.length === text.length && c.inputPending === 0);
      expect(Buffer.from(h.input).toString()).toBe(text);
      expect(Buffer.from(out).toString()).toBe(text.toUpperCase());
      c.close();
      await owner.svc.close();
    }
  });
});
