// Runs a CLI command function in the test's own process and collects what it writes to stdout and
// stderr (the command itself runs for real; only the two streams are captured).

export async function inProcess(f: () => Promise<number>): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const o = process.stdout.write.bind(process.stdout), e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((b: string | Uint8Array) => { stdout += String(b); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((b: string | Uint8Array) => { stderr += String(b); return true; }) as typeof process.stderr.write;
  try { return { status: await f(), stdout, stderr }; } finally { process.stdout.write = o; process.stderr.write = e; }
}
