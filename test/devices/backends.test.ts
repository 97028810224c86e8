import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { FileConsole, TcpConsole, CONSOLE_INPUT_LIMIT } from '../../src/devices/backends/console.js';
import { FileDisk } from '../../src/devices/backends/disk.js';
import { SystemClock, SystemEntropy } from '../../src/devices/backends/clock.js';

describe('host backends', () => {
  it('file console: output to a file, input from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-con-'));
    writeFileSync(join(dir, 'in'), 'hello');
    const c = new FileConsole(join(dir, 'out'), join(dir, 'in'));
    expect(new TextDecoder().decode(c.read(3)!)).toBe('hel');
    expect(new TextDecoder().decode(c.read(16)!)).toBe('lo');
    expect(c.read(16)).toBe(null);
    for (const ch of 'ok\n') c.write(ch.charCodeAt(0));
    await c.close();
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('ok\n');
    rmSync(dir, { recursive: true, force: true });
  });

  it('TCP console: a client types and sees output', async () => {
    const c = await TcpConsole.listen(0);
    const sock = connect(c.port, '127.0.0.1');
    const got: Buffer[] = [];
    sock.on('data', (d) => got.push(d));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    for (let i = 0; i < 100 && !c.connected; i++) await new Promise((r) => setTimeout(r, 5));
    sock.write('ls\r');
    for (let i = 0; i < 100 && !got.length; i++) {
      const b = c.read(16);
      if (b) { expect(new TextDecoder().decode(b)).toBe('ls\r'); for (const x of b) c.write(x); c.flush(); }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(Buffer.concat(got).toString()).toBe('ls\r');
    sock.destroy();
    await c.close();
    await expect(TcpConsole.listen(c.port).then(async (x) => { await x.close(); return 'ok'; })).resolves.toBe('ok');
  });

  it('TCP console: input is bounded while the guest does not read, and nothing is lost', async () => {
    const c = await TcpConsole.listen(0);
    const sock = connect(c.port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const sent = new Uint8Array(4 << 20);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 12)) & 0xff;
    sock.write(sent);
    // nobody reads for a while: the console stops taking bytes past its limit
    for (let i = 0; i < 40; i++) await new Promise((r) => setTimeout(r, 10));
    const got: Uint8Array[] = [];
    const first = c.read(1 << 30);
    expect(first).not.toBe(null);
    expect(first!.length).toBeLessThanOrEqual(CONSOLE_INPUT_LIMIT + (1 << 16));
    got.push(first!);
    let total = first!.length;
    for (let i = 0; i < 20_000 && total < sent.length; i++) {
      const b = c.read(4096);
      if (b) { got.push(b); total += b.length; } else await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.concat(got).equals(Buffer.from(sent))).toBe(true);
    sock.destroy();
    await c.close();
  }, 30_000);

  it('disk file: reads past the end are zeros; read-only refuses writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-disk-'));
    const p = join(dir, 'd.img');
    writeFileSync(p, Uint8Array.of(1, 2, 3));
    const d = FileDisk.open(p, { readOnly: true });
    expect(d.size).toBe(3);
    expect(Array.from(d.read(1, 4))).toEqual([2, 3, 0, 0]);
    expect(() => d.write(0, Uint8Array.of(9))).toThrow(/read-only/);
    d.close();
    if (process.getuid?.() !== 0) {
      chmodSync(p, 0o000);
      expect(() => FileDisk.open(p)).toThrow(/permission denied/);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('clock is monotonic; entropy fills', () => {
    const c = new SystemClock();
    const a = c.monoNs(), b = c.monoNs();
    expect(b).toBeGreaterThanOrEqual(a);
    // the host's wall clock: between two readings of Date.now() around it, however long they take
    const before = Date.now(), wall = c.wallMs(), after = Date.now();
    expect(wall).toBeGreaterThanOrEqual(before - 1);
    expect(wall).toBeLessThanOrEqual(after + 1);
    const buf = new Uint8Array(32);
    new SystemEntropy().fill(buf);
    expect(buf.some((x) => x !== 0)).toBe(true);
  });
});
