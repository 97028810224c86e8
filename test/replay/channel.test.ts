import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChannelError, memoryPipe } from '../../src/replay/channel.js';
import { openFileSink, openFileSource } from '../../src/replay/channel-file.js';
import { connectTcp, listenTcp } from '../../src/replay/channel-tcp.js';
import net from 'node:net';
import { TruncatedLogError, encodeLog } from '../../src/replay/codec.js';
import type { LogEntry } from '../../src/replay/format.js';
import { readAll, readLog, readLogFile } from '../../src/replay/reader.js';
import { LogWriter } from '../../src/replay/writer.js';
import { sampleEntries, sampleHeader } from '../../src/replay/codec-bench.js';

const dir = mkdtempSync(join(tmpdir(), 'x86ft-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('memory channel + writer', () => {
  it('streams a log through a small bounded buffer with back-pressure', async () => {
    const { sink, source } = memoryPipe(4096);
    const entries = sampleEntries(20_000, 11);
    const w = new LogWriter(sink, sampleHeader(), { maxBatchEntries: 64 });
    const reading = readAll(source);
    for (const e of entries) if (!w.append(e)) await w.drained();
    await w.close();
    const got = await reading;
    expect(got.entries).toEqual(entries);
    expect(got.trailer.entries).toBe(entries.length);
    expect(sink.stats.waits).toBeGreaterThan(0);
  });

  it('flushes a small batch after the bounded delay without an explicit flush', async () => {
    const { sink, source } = memoryPipe();
    const w = new LogWriter(sink, sampleHeader(), { flushDelayMs: 2 });
    const it = readLog(source)[Symbol.asyncIterator]();
    w.append({ icount: 42, kind: 'tsc', payload: { lo: 1, hi: 2 } });
    // without the timed flush the entry would never arrive: the test's timeout is the guard
    const r = await it.next();
    expect(r.value).toEqual({ icount: 42, kind: 'tsc', payload: { lo: 1, hi: 2 } });
    await w.close();
    expect((await it.next()).done).toBe(true);
  }, 30_000);

  it('a reader that goes away gives the writer a typed CLOSED error', async () => {
    const { sink, source } = memoryPipe(1024);
    const errors: ChannelError[] = [];
    const w = new LogWriter(sink, sampleHeader(), { maxBatchEntries: 8, onError: (e) => errors.push(e) });
    source.close();
    for (const e of sampleEntries(100)) {
      try {
        w.append(e);
      } catch (err) {
        expect(err).toBeInstanceOf(ChannelError);
        break;
      }
      await sleep(0);
    }
    await expect(w.flush()).rejects.toBeInstanceOf(ChannelError);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('CLOSED');
  });

  it('an aborted writer leaves a cut log', async () => {
    const { sink, source } = memoryPipe();
    const w = new LogWriter(sink, sampleHeader());
    const reading = readAll(source);
    for (const e of sampleEntries(10)) w.append(e);
    await w.flush();
    w.abort();
    await expect(reading).rejects.toBeInstanceOf(ChannelError);
    // a writer that ends its sink without the end frame: truncated
    const p2 = memoryPipe();
    const w2 = new LogWriter(p2.sink, sampleHeader());
    const r2 = readAll(p2.source);
    for (const e of sampleEntries(10)) w2.append(e);
    await w2.flush();
    await p2.sink.end();
    await expect(r2).rejects.toBeInstanceOf(TruncatedLogError);
  });
});

describe('file channel', () => {
  it('writes a file and reads it back', async () => {
    const path = join(dir, 'a.x86log');
    const entries = sampleEntries(5000, 2);
    const w = new LogWriter(await openFileSink(path), sampleHeader());
    for (const e of entries) w.append(e);
    await w.close();
    const got: LogEntry[] = [];
    for await (const e of readLogFile(path, { chunkSize: 1000 })) got.push(e);
    expect(got).toEqual(entries);
  });

  it('follows a file while a writer appends with delays, stopping at the end frame', async () => {
    const path = join(dir, 'follow.x86log');
    const entries = sampleEntries(400, 9);
    // start the follower before the file exists
    const follower = (async () => {
      const got: LogEntry[] = [];
      for await (const e of readLogFile(path, { follow: true, pollMs: 2, idleTimeoutMs: 10_000 })) got.push(e);
      return got;
    })();
    await sleep(20);
    const w = new LogWriter(await openFileSink(path), sampleHeader(), { flushDelayMs: 1, maxBatchEntries: 16 });
    for (let i = 0; i < entries.length; i++) {
      w.append(entries[i]!);
      if (i % 37 === 0) await sleep(3);
    }
    await w.close();
    const got = await follower;
    expect(got).toEqual(entries);
  });

  it('a followed file that stops growing without an end frame is cut', async () => {
    const path = join(dir, 'cut.x86log');
    const sink = await openFileSink(path);
    const w = new LogWriter(sink, sampleHeader());
    for (const e of sampleEntries(50)) w.append(e);
    await w.flush();
    const got: LogEntry[] = [];
    await expect(
      (async () => {
        for await (const e of readLogFile(path, { follow: true, pollMs: 2, idleTimeoutMs: 100 })) got.push(e);
      })(),
    ).rejects.toBeInstanceOf(TruncatedLogError);
    expect(got).toEqual(sampleEntries(50));
    w.abort();
  });

  it('a missing file is a typed NOT_FOUND error', async () => {
    const src = openFileSource(join(dir, 'nope'));
    await expect((async () => { for await (const _ of src) void _; })()).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('tcp channel', () => {
  it('streams a log over 127.0.0.1 to a slow reader with back-pressure', async () => {
    const server = await listenTcp();
    const accepted = server.accept();
    const client = await connectTcp({ port: server.port });
    const conn = await accepted;
    // DMA-heavy entries: ~24 MB, more than socket buffers can absorb
    const entries: LogEntry[] = [];
    for (let i = 0; i < 6000; i++) entries.push({ icount: i * 10, kind: 'disk-read', payload: { device: 0, sector: i, data: new Uint8Array(4096).fill(i & 0xff) } });
    let maxBacklog = 0;
    const w = new LogWriter(client.sink, sampleHeader(), { highWaterBytes: 1 << 20 });
    const reading = (async () => {
      const got: LogEntry[] = [];
      let n = 0;
      for await (const e of readLog(conn.source)) {
        got.push(e);
        if (++n % 200 === 0) await sleep(5); // slow consumer
      }
      return got;
    })();
    for (const e of entries) {
      if (!w.append(e)) await w.drained();
      maxBacklog = Math.max(maxBacklog, w.backlogBytes);
    }
    await w.close();
    const got = await reading;
    expect(got.length).toBe(entries.length);
    expect(got[5999]).toEqual(entries[5999]);
    expect(got.map((e) => e.icount)).toEqual(entries.map((e) => e.icount));
    expect(client.sink.stats.waits).toBeGreaterThan(0);
    expect(maxBacklog).toBeLessThan(2 << 20); // high-water mark + one batch
    conn.close();
    client.close();
    await server.close();
  });

  it('the reader closing mid-stream gives the writer a typed error', async () => {
    const server = await listenTcp();
    const accepted = server.accept();
    const client = await connectTcp({ port: server.port });
    const conn = await accepted;
    const errors: ChannelError[] = [];
    const w = new LogWriter(client.sink, sampleHeader(), { onError: (e) => errors.push(e) });
    let n = 0;
    for await (const chunk of conn.source) {
      n += chunk.length;
      if (n > 0) break;
    }
    conn.close(); // the secondary vanishes
    let thrown: unknown;
    for (let i = 0; i < 200_000 && !thrown; i++) {
      try {
        if (!w.append({ icount: i, kind: 'net-rx', payload: { device: 0, data: new Uint8Array(1000) } })) await w.drained();
      } catch (e) {
        thrown = e;
      }
      if (i % 100 === 0) await sleep(1);
    }
    expect(thrown).toBeInstanceOf(ChannelError);
    expect(['CLOSED', 'RESET', 'BROKEN_PIPE']).toContain((thrown as ChannelError).code);
    expect(errors).toHaveLength(1);
    await expect(w.close()).rejects.toBeInstanceOf(ChannelError);
    client.close();
    await server.close();
  });

  it('the writer vanishing mid-stream gives the reader a typed error', async () => {
    const server = await listenTcp();
    // (a) clean close without end frame: cut
    let accepted = server.accept();
    let client = await connectTcp({ port: server.port });
    let conn = await accepted;
    let w = new LogWriter(client.sink, sampleHeader());
    for (const e of sampleEntries(100)) w.append(e);
    await w.flush();
    await client.sink.end();
    await expect(readAll(conn.source)).rejects.toBeInstanceOf(TruncatedLogError);
    conn.close();
    // (b) connection reset (RST, as when the primary's host dies): RESET
    accepted = server.accept();
    const raw = net.connect({ host: '127.0.0.1', port: server.port });
    await new Promise((r) => raw.once('connect', r));
    conn = await accepted;
    const bytes = encodeLog(sampleHeader(), sampleEntries(100), 10, false);
    raw.write(bytes.subarray(0, bytes.length - 5));
    const got: LogEntry[] = [];
    const reading = (async () => {
      for await (const e of readLog(conn.source)) got.push(e);
    })();
    await sleep(30);
    raw.resetAndDestroy();
    await expect(reading).rejects.toMatchObject({ name: 'ChannelError', code: 'RESET' });
    expect(got).toEqual(sampleEntries(100).slice(0, 90));
    conn.close();
    await server.close();
  });

  it('connecting to a closed port is REFUSED', async () => {
    const server = await listenTcp();
    const port = server.port;
    await server.close();
    await expect(connectTcp({ port })).rejects.toMatchObject({ code: 'REFUSED' });
  });
});
