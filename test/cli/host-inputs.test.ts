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
import { mkdtempSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
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

// ---- files the CLI reads: regular files only, checked before they are opened ----

describe('an ELF, snapshot, log or disk that is not a regular file is refused (status 2) unopened', () => {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-kinds-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const elf = guestElf('sort'); // ends with status 0 on its own, whatever the machine's load
  const log = join(dir, 'sort.log');
  execFileSync(process.execPath, [CLI, 'record', elf, '--log', log], { stdio: 'ignore' });
  // spawnSync's timeout kills a blocked process: its status is then null, not 2
  const x86ft = (args: string[], input?: Buffer) => spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'latin1', timeout: 30_000 });
  const cases: [string, string[], RegExp][] = [];
  for (const [what, path] of [['a FIFO', fifo], ['a character device', '/dev/zero'], ['a directory', dir]] as const) {
    cases.push(
      [`run with ${what} as the ELF`, ['run', path], new RegExp(`ELF image .* is ${what}`)],
      [`record with ${what} as the ELF`, ['record', path, '--log', join(dir, 'x.log')], new RegExp(`ELF image .* is ${what}`)],
      [`replay with ${what} as the ELF`, ['replay', log, '--image', path], new RegExp(`ELF image .* is ${what}`)],
      [`replay with ${what} as the snapshot`, ['replay', log, '--image', elf, '--snapshot', path], new RegExp(`snapshot .* is ${what}`)],
      [`record --from-snapshot with ${what}`, ['record', '--from-snapshot', path, '--image', elf, '--log', join(dir, 'x.log')], new RegExp(`snapshot .* is ${what}`)],
      [`replay with ${what} as the log`, ['replay', path, '--image', elf], new RegExp(`log .* is ${what}: .*FIFO with --follow`)],
      [`log inspect with ${what}`, ['log', 'inspect', path], new RegExp(`log .* is ${what}`)],
      [`run with ${what} as a read-only disk`, ['run', elf, '--disk', `${path}:ro`], /not a regular file or a block device/],
    );
  }
  cases.push([`a character device as console input`, ['run', elf, '--console', `file:${join(dir, 'out')}:/dev/zero`], /console input file \/dev\/zero: not a regular file or a FIFO/]);
  for (const [name, args, msg] of cases) {
    it(name, () => {
      const r = x86ft(args);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.status).toBe(2);
    });
  }
  it('a log from stdin (`-`) replays and inspects', () => {
    const bytes = readFileSync(log);
    const r = x86ft(['replay', '-', '--image', elf], bytes);
    expect(r.stdout).toMatch(/replay identical/);
    expect(r.status).toBe(0);
    const i = x86ft(['log', 'inspect', '-'], bytes);
    expect(i.stdout).toMatch(/^file: +-\n/);
    expect(i.status).toBe(0);
  });
  it('a FIFO log with --follow replays while the recorder writes into it', async () => {
    const follower = spawn(process.execPath, [CLI, 'replay', fifo, '--follow', '--quiet', '--image', elf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    follower.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    follower.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const done = new Promise<number>((r) => follower.on('close', (c) => r(c ?? -1)));
    const rec = spawnSync(process.execPath, [CLI, 'record', elf, '--log', fifo], { timeout: 60_000, encoding: 'latin1' });
    expect(rec.stderr).toBe('');
    expect(rec.status).toBe(0);
    expect(await done, err).toBe(0);
    expect(out).toMatch(/replay identical/);
  }, 90_000);
  it('record --log FIFO with no reader yet stops on SIGTERM (status 1, nothing recorded); an empty --log is a usage error', async () => {
    const fifo2 = join(dir, 'noreader.fifo');
    execFileSync('mkfifo', [fifo2]);
    const rec = spawn(process.execPath, [CLI, 'record', elf, '--log', fifo2], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    rec.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const done = new Promise<number>((r) => rec.on('close', (c) => r(c ?? -1)));
    // wait until a thread of the recorder blocks in open(2) on the FIFO (Linux: wchan wait_for_partner)
    const blocked = (): boolean => {
      try {
        return readdirSync(`/proc/${rec.pid}/task`).some((t) => readFileSync(`/proc/${rec.pid}/task/${t}/wchan`, 'utf8') === 'wait_for_partner');
      } catch { return false; }
    };
    for (let i = 0; i < 1200 && !blocked() && rec.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
    expect(blocked()).toBe(true);
    rec.kill('SIGTERM');
    expect(await done).toBe(1);
    expect(err).toMatch(/stopped while opening .*noreader\.fifo .*nothing recorded/);
    const e = x86ft(['record', elf, '--log', '']);
    expect(e.stderr).toMatch(/--log needs a value/);
    expect(e.status).toBe(2);
  }, 90_000);
});
