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
