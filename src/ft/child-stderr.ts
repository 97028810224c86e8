// Role processes' stderr, forwarded line by line with a prefix naming the role (supervisor and host
// agent): whole lines only, so the lines of two roles never interleave mid-line.

import type { ChildProcess } from 'node:child_process';

/**
 * Writes each complete line of `child`'s piped stderr to `out` as `prefix + line + '\n'`.
 * Returns `flush`: call it when the child has exited, to write a last line without its newline.
 */
export function forwardStderrLines(child: ChildProcess, prefix: string, out: { write(s: string): unknown }): () => void {
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const l of lines) out.write(prefix + l + '\n');
  });
  return () => { if (partial) { out.write(prefix + partial + '\n'); partial = ''; } };
}
