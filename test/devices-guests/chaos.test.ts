// The gate rule for every device (issue 8): dev_chaos programs I/O ports and virtio registers
// (a disk and a NIC attached) with values from a seeded PRNG, right and wrong, while a UDP peer
// floods the NIC with frames. Whatever the guest did, `x86ft replay` of the recording must be
// identical, and replay's stderr must be exactly the console output the recorder printed.

import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, guestElf } from './helpers.js';

const SEEDS = [1, 2, 3, 4];
const GUEST_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]; // the machine's default for NIC 0

interface Done { code: number; stdout: Buffer; stderr: Buffer }
function cli(args: string[], timeoutMs = 120_000): Promise<Done> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d: Buffer) => err.push(d));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => { clearTimeout(t); res({ code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }); });
  });
}

function bindUdp(): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = createSocket('udp4');
    s.once('error', rej);
    s.bind(0, '127.0.0.1', () => { s.off('error', rej); res(s); });
  });
}

describe('dev_chaos: random port and virtio programming with a disk and a NIC replays identically', () => {
  const elf = guestElf('dev_chaos');
  for (const seed of SEEDS) {
    it(`seed ${seed}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'x86ft-chaos-'));
      const peer = await bindUdp();
      const lport = await (async () => { const s = await bindUdp(); const p = s.address().port; await new Promise<void>((r) => s.close(() => r())); return p; })();
      // frames of 0xFF bytes: if the guest's random rings ever read them as addresses, they lie outside RAM
      const f = Buffer.alloc(60, 0xff);
      Buffer.from(GUEST_MAC).copy(f, 0);
      const flood = setInterval(() => { for (let k = 0; k < 4; k++) peer.send(f, lport, '127.0.0.1'); }, 2);
      try {
        const disk = join(dir, 'disk.img');
        writeFileSync(disk, Buffer.alloc(64 * 1024, 0xa5));
        const log = join(dir, 'chaos.log');
        const rec = await cli(['record', elf, '--log', log, '--cmdline', `${seed} 160`, '--no-input', '--digest-every', '200k',
          '--disk', disk, '--net', `udp:${lport}:127.0.0.1:${peer.address().port}`, '--max-instructions', '500M']);
        clearInterval(flood);
        expect(rec.stderr.toString(), 'record stderr').toBe('');
        expect(rec.code).toBe(0);
        expect(rec.stdout.toString('latin1')).toMatch(/dev_chaos done: hash [0-9a-f]{16}/);
        const rep = await cli(['replay', log, '--image', elf]);
        expect(rep.stdout.toString(), rep.stderr.toString('latin1')).toMatch(/replay identical/);
        expect(rep.code).toBe(0);
        expect(rep.stdout.toString()).toMatch(/replayed end: exit \(status 0\)/);
        // replay's stderr is the guest's console and nothing else (tools compare it byte for byte)
        expect(rep.stderr.equals(rec.stdout)).toBe(true);
      } finally {
        clearInterval(flood);
        peer.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }
});
