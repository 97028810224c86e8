// The `x86ft run` command as a user meets it: exit statuses and messages for good and bad input.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleGuest, assembleOkGuest, EXIT_AL } from '../helpers/asm.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
function x86ft(args: string[], input = '') {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('x86ft run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-cli-'));
  const hello = assembleOkGuest(9);

  it('prints the guest console and exits with its status; --stats reports MIPS', () => {
    const r = x86ft(['run', hello, '--stats']);
    expect(r.stdout).toBe('ok\n');
    expect(r.status).toBe(9);
    expect(r.stderr).toMatch(/instructions: 19\n/); // 2 + 3 iterations x 5 + 2
    expect(r.stderr).toMatch(/MIPS: /);
    expect(r.stderr).not.toContain('x86ft-status'); // only with --status-line (test/cli/status-console.test.ts)
  });
  it('--help documents the options and exits 0', () => {
    const r = x86ft(['run', '--help']);
    expect(r.status).toBe(0);
    for (const o of ['--mem', '--max-instructions', '--disk', '--net', '--console', '--stats']) expect(r.stdout).toContain(o);
  });
  it('a file that is not an x86-64 ELF is a clear error with status 2', () => {
    const bad = join(dir, 'bad.elf');
    writeFileSync(bad, 'not an elf at all, just some text that is long enough to have a header\n'.repeat(2));
    const r = x86ft(['run', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not an ELF file/);
    const r2 = x86ft(['run', '/bin/true']); // a real ELF, but a dynamic PIE
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/ET_EXEC|below 1 MiB|segment/);
  });
  it('a missing file, an unknown option and a bad size are usage errors (status 2)', () => {
    expect(x86ft(['run', join(dir, 'nope.elf')]).status).toBe(2);
    expect(x86ft(['run', hello, '--frobnicate']).status).toBe(2);
    const r = x86ft(['run', hello, '--mem', '12Q']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/bad size/);
  });
  it('a missing disk image is a clear error (status 2)', () => {
    const r = x86ft(['run', hello, '--disk', join(dir, 'missing.img')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing\.img/);
  });
  it('a UDP port in use is a clear error (status 2)', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    const port = sock.address().port;
    try {
      const r = x86ft(['run', hello, '--net', `udp:${port}:127.0.0.1:9`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/in use/);
    } finally { sock.close(); }
  });
  it('an unhandled guest fault exits 126 with vector, RIP and instruction bytes', () => {
    const f = assembleGuest('_start: movq $1, 0x10\n');
    const r = x86ft(['run', f]);
    expect(r.status).toBe(126);
    expect(r.stderr).toMatch(/#PF.*RIP 0x[0-9a-f]+.*CR2 0x10.*instruction bytes: 48 c7 04 25 10 00 00 00/);
  });
  it('the instruction budget ends the run with status 124 after exactly N instructions', () => {
    const spin = assembleGuest('_start: jmp _start\n');
    const r = x86ft(['run', spin, '--max-instructions', '12345', '--stats']);
    expect(r.status).toBe(124);
    expect(r.stderr).not.toContain('x86ft-status'); // only with --status-line
    expect(r.stderr).toMatch(/instructions: 12345\n/);
  });
  it('HLT with interrupts disabled exits 125', () => {
    expect(x86ft(['run', assembleGuest('_start: cli\n hlt\n')]).status).toBe(125);
  });
});

describe('x86ft run on a terminal', () => {
  it('Ctrl-A x stops a guest idling in HLT (exit 130); stdin is raw, so Ctrl-C would go to the guest', () => {
    const idle = assembleGuest('_start: sti\n1: hlt\n jmp 1b\n');
    // util-linux `script` gives the CLI a pseudo-terminal as stdin
    const r = spawnSync('sh', ['-c', `(sleep 1.5; printf '\\001x') | script -qec "${process.execPath} ${CLI} run ${idle}" /dev/null`],
      { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toMatch(/stopped by the user after 2 instructions/);
    expect(r.status).toBe(130);
  });
});

describe('x86ft output into a closed pipe', () => {
  it('ends quietly when the reader goes away (| head)', () => {
    const chatty = assembleGuest(`_start:
    mov $0x3f8, %dx
    mov $200000, %ecx
  1: mov $'y', %al
    outb %al, %dx
    mov $10, %al
    outb %al, %dx
    loop 1b
    mov $0, %al
    ${EXIT_AL}`);
    const r = spawnSync('sh', ['-c', `${process.execPath} ${CLI} run ${chatty} | head -1`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toBe('y\n');
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|Error/);
  });
});
