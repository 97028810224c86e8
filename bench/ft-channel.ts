// FT channel micro-benchmark (`node dist/bench/ft-channel.js`, part of `npm run bench`): round-trip
// latency on loopback of P's 'sync' answered by S's 'ack' over the authenticated channel (HMAC per
// message), median and p99 from individually timed round trips, plus benny's round trips per second
// with and without a 64 KiB log chunk in front of the sync. Results in bench/results/ft-channel.json.
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { envInt } from '../src/env.js';
import b from 'benny';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connectFt, listenFt, type FtPeer } from '../src/ft/channel.js';

const resultsDir = new URL('../../bench/results/', import.meta.url).pathname;
const ROUND_TRIPS = envInt('X86FT_BENCH_RTT');

async function pair(): Promise<{ p: FtPeer; s: FtPeer; close(): Promise<void> }> {
  const id = { secret: new Uint8Array(randomBytes(32)), vm: 'bench', generation: 1 };
  const srv = await listenFt({ ...id, hostId: 'p' });
  const accepted = srv.accept();
  const s = await connectFt({ ...id, hostId: 's', port: srv.port });
  const p = await accepted;
  // S acks every sync at once.
  s.onMessage((m) => {
    if (m.t === 'sync') s.send({ t: 'ack', icount: m.icount });
  });
  return { p, s, close: async () => (p.abort(), s.abort(), await srv.close()) };
}

/** A round-trip driver: rtt(log?) sends [log,] sync and resolves on the matching ack (calls may overlap). */
function driver(p: FtPeer): (log?: Uint8Array) => Promise<void> {
  let icount = 0;
  const waiting = new Map<number, () => void>();
  p.onMessage((m) => {
    if (m.t === 'ack') {
      waiting.get(m.icount)?.();
      waiting.delete(m.icount);
    }
  });
  return (log) =>
    new Promise<void>((resolve) => {
      waiting.set(++icount, resolve);
      if (log) p.send({ t: 'log', bytes: log });
      p.send({ t: 'sync', icount });
    });
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const { p, close } = await pair();
  const rtt = driver(p);
  const chunk = new Uint8Array(randomBytes(64 * 1024));
  const timed = async (log?: Uint8Array): Promise<{ medianUs: number; p99Us: number }> => {
    for (let i = 0; i < 200; i++) await rtt(log); // warm-up
    const us: number[] = [];
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const t0 = process.hrtime.bigint();
      await rtt(log);
      us.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    us.sort((a, b) => a - b);
    return { medianUs: percentile(us, 0.5), p99Us: percentile(us, 0.99) };
  };
  const sync = await timed();
  const withLog = await timed(chunk);
  console.log(`sync -> ack round trip: median ${sync.medianUs.toFixed(0)} µs, p99 ${sync.p99Us.toFixed(0)} µs (${ROUND_TRIPS} round trips)`);
  console.log(`64 KiB log + sync -> ack: median ${withLog.medianUs.toFixed(0)} µs, p99 ${withLog.p99Us.toFixed(0)} µs`);

  const rates: { name: string; ops: number; margin: number }[] = [];
  await b.suite(
    'ft-channel',
    b.add('sync -> ack round trip', async () => {
      await rtt();
    }),
    b.add('64 KiB log + sync -> ack', async () => {
      await rtt(chunk);
    }),
    b.cycle(),
    b.complete((summary) => {
      for (const r of summary.results) rates.push({ name: r.name, ops: r.ops, margin: r.margin });
    }),
    b.configure({ cases: { minSamples: 5, maxTime: 3 } }),
  );
  await close();
  writeFileSync(
    `${resultsDir}ft-channel.json`,
    JSON.stringify({ date: new Date().toISOString(), node: process.version, roundTrips: ROUND_TRIPS, sync, withLog64k: withLog, rates }, null, 2) + '\n',
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
