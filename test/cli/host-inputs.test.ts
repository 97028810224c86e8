// Inputs from the host (issue 8): what the CLI opens and listens on, checked with real files,
// FIFOs, sockets and processes.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { assembleGuest } from '../helpers/asm.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

/** Local address (dotted) of the UDP socket bound to `port`, from /proc/net/udp, or undefined. */
function udpLocalAddress(port: number): string | undefined {
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const m = /^\s*\d+: ([0-9A-F]{8}):([0-9A-F]{4}) /.exec(line);
    if (!m || parseInt(m[2]!, 16) !== port) continue;
    const a = parseInt(m[1]!, 16); // little-endian hex of the IPv4 address
    return [a & 255, (a >>> 8) & 255, (a >>> 16) & 255, a >>> 24].join('.');
  }
  return undefined;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

describe('listening sockets bind loopback unless asked otherwise', () => {
  const idle = assembleGuest('_start: sti\n1: hlt\n jmp 1b\n');
  const boundBy = async (net: string, port: number): Promise<string | undefined> => {
    const c = spawn(process.execPath, [CLI, 'run', idle, '--no-input', '--net', net], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 500; i++) { // up to 25 s for a loaded machine; normally the first tries
        const a = udpLocalAddress(port);
        if (a) return a;
        if (c.exitCode !== null) return undefined;
        await new Promise((r) => setTimeout(r, 50));
      }
      return undefined;
    } finally {
      c.kill('SIGKILL');
    }
  };
  it('--net udp:LPORT:… binds 127.0.0.1; udp:0.0.0.0:LPORT:… binds every interface', async () => {
    const p1 = await freeUdpPort();
    expect(await boundBy(`udp:${p1}:127.0.0.1:9`, p1)).toBe('127.0.0.1');
    const p2 = await freeUdpPort();
    expect(await boundBy(`udp:0.0.0.0:${p2}:127.0.0.1:9`, p2)).toBe('0.0.0.0');
  }, 60_000);
});

// ---- console input: every backend delivers exactly the bytes sent, the first one included ----

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestElf } from '../devices-guests/helpers.js';

describe('console input reaches the guest byte for byte (dev_echo upper-cases each line)', () => {
  const echo = guestElf('dev_echo');
  const want = 'dev_echo ready\n> ABC\n> DEF\nbye: 3 lines, 13 bytes, some interrupts, 0 overruns, 0 line errors\n';
  const input = 'abc\ndef\nquit\n';

  it('file:OUT:IN (input waiting at boot used to lose its first byte)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-con-'));
    try {
      writeFileSync(join(dir, 'in'), input);
      const r = spawnSync(process.execPath, [CLI, 'run', echo, '--console', `file:${join(dir, 'out')}:${join(dir, 'in')}`], { encoding: 'latin1', timeout: 60_000 });
      expect(r.status).toBe(0);
      expect(readFileSync(join(dir, 'out'), 'latin1')).toBe(want);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  it('stdio, with input piped in before the guest starts', () => {
    const r = spawnSync(process.execPath, [CLI, 'run', echo], { input, encoding: 'latin1', timeout: 60_000 });
    expect(r.stdout).toBe(want);
    expect(r.status).toBe(0);
  });

  it('file:OUT:FIFO: opened without blocking, every writer read in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86ft-con-'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const c = spawn(process.execPath, [CLI, 'run', echo, '--console', `file:${join(dir, 'out')}:${fifo}`], { stdio: 'ignore' });
    const done = new Promise<number>((r) => c.on('close', (code) => r(code ?? -1)));
    try {
      // two writers, one after the other (each open blocks until x86ft has the FIFO open for reading)
      for (const part of ['abc\nd', 'ef\nquit\n']) {
        await new Promise<void>((res, rej) => {
          const w = spawn('sh', ['-c', `printf '%s' "$1" > "$2"`, 'sh', part, fifo], { stdio: 'ignore' });
          w.on('close', (code) => (code === 0 ? res() : rej(new Error(`writer ended ${code}`))));
        });
      }
      expect(await done).toBe(0);
      expect(readFileSync(join(dir, 'out'), 'latin1')).toBe(want);
    } finally { c.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); }
  }, 60_000);

  it('tcp:PORT, with input sent as soon as the client connects', async () => {
    const port = await (async () => { const s = (await import('node:net')).createServer(); await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r())); const p = (s.address() as { port: number }).port; await new Promise<void>((r) => s.close(() => r())); return p; })();
    const c = spawn(process.execPath, [CLI, 'run', echo, '--console', `tcp:${port}`], { stdio: 'ignore' });
    const done = new Promise<number>((r) => c.on('close', (code) => r(code ?? -1)));
    try {
      let sock;
      for (let i = 0; ; i++) {
        try {
          sock = await new Promise<import('node:net').Socket>((res, rej) => { const s = connect(port, '127.0.0.1', () => res(s)); s.once('error', rej); });
          break;
        } catch (e) { if (i > 400) throw e; await new Promise((r) => setTimeout(r, 50)); }
      }
      let got = '';
      sock.on('data', (d: Buffer) => { got += d.toString('latin1'); });
      sock.write(input);
      expect(await done).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toContain('> ABC\n> DEF\nbye: 3 lines');
      sock.destroy();
    } finally { c.kill('SIGKILL'); }
  }, 60_000);
});
