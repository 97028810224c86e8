// Test helper: assemble small AT&T snippets (64-bit) with the system's `as` and return their bytes as hex,
// one `as` run for the whole list (each snippet in its own section). Test-only.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Assemble each snippet (`;`-separated or multi-line AT&T, local labels allowed) at address 0; hex per snippet. */
export function assemble(snippets: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'x86ft-asm-'));
  try {
    const src = ['.code64'];
    snippets.forEach((s, k) => src.push(`.section .t${k},"ax"`, s.replace(/;/g, '\n')));
    writeFileSync(join(dir, 'a.s'), src.join('\n') + '\n');
    execFileSync('as', ['-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('objcopy', [...snippets.flatMap((_, k) => ['--dump-section', `.t${k}=${join(dir, `t${k}.bin`)}`]), join(dir, 'a.o'), join(dir, 'b.o')]);
    return snippets.map((_, k) => readFileSync(join(dir, `t${k}.bin`)).toString('hex'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
