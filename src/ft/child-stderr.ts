// Role processes' stderr, forwarded line by line with a prefix naming the role (supervisor and host
// agent): whole lines only, so the lines of two roles never interleave mid-line.

import type { ChildProcess } from 'node:child_process';

/**
 * Writes each complete line of `child`'s piped stderr to `out` as `prefix(line) + line + '\n'`.
 * Returns `flush`: call it when the child has exited, to write a last line without its newline.
 */
export function forwardStderrLines(child: ChildProcess, prefix: string | ((line: string) => string), out: { write(s: string): unknown }): () => void {
  let partial = '';
  const pre = typeof prefix === 'string' ? () => prefix : prefix;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const l of lines) out.write(pre(l) + l + '\n');
  });
  return () => { if (partial) { out.write(pre(partial) + partial + '\n'); partial = ''; } };
}

/** The role a role process's message says it plays now (`x86ft ft primary: …`; a secondary that went live says
 *  primary from then on), or undefined: forwarders follow it, so their prefix is never stale. */
export function roleNamed(line: string): 'primary' | 'secondary' | undefined {
  const m = /^x86ft ft (primary|secondary): /.exec(line);
  return m ? (m[1] as 'primary' | 'secondary') : undefined;
}
