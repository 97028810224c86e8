// Test helper: assemble a bare-metal guest from GNU assembler source with the machine's gcc.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Assemble `source` (AT&T syntax, entry `_start`) into an ET_EXEC ELF loaded at 1 MiB; returns the file path. */
export function assembleGuest(source: string, name = 'guest'): string {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-asm-'));
  const src = join(dir, `${name}.S`);
  const out = join(dir, `${name}.elf`);
  writeFileSync(src, `.globl _start\n.text\n${source}\n`);
  execFileSync('gcc', ['-nostdlib', '-static', '-no-pie', '-Wl,-Ttext-segment=0x100000', '-Wl,--build-id=none', '-o', out, src]);
  return out;
}

export function assembleGuestBytes(source: string, name = 'guest'): Uint8Array {
  return readFileSync(assembleGuest(source, name));
}

/** `out` a byte in %al to the debug-exit port: ends the run with that status. */
export const EXIT_AL = 'out %al, $0xf4\n';

/** A guest that prints "ok\n" on COM1 and exits with `status` (0-255, the guest's own choice); returns its path. */
export function assembleOkGuest(status: number): string {
  return assembleGuest(`_start:
    lea msg(%rip), %rsi
    mov $3, %ecx
  1: movb (%rsi), %al
    mov $0x3f8, %dx
    outb %al, %dx
    inc %rsi
    loop 1b
    mov $${status}, %al
    ${EXIT_AL}
  msg: .ascii "ok\\n"`);
}
