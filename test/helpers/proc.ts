// Child processes for tests, without blocking the test worker. vitest's worker talks to its parent over an
// RPC whose calls time out after 60 s (not configurable); a spawnSync that blocks the worker's event loop for
// that long on a loaded machine makes vitest report "Timeout calling onTaskUpdate" and fail the run even
// though every test passed. Long child runs (emulator runs, replays) therefore go through spawnAsync.
import { spawn } from 'node:child_process';

/** Options of {@link spawnAsync}: the subset of spawnSync's the tests use. */
export interface SpawnAsyncOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes (or text) written to the child's stdin, which is then closed; without it stdin is closed at once. */
  input?: string | Uint8Array;
  /** Kill the child with SIGKILL after this many ms (a hang guard, not a speed bound). Default: none. */
  timeout?: number;
  /** Decode stdout and stderr with this encoding; without it they are Buffers. */
  encoding?: BufferEncoding;
}

/** What spawnSync returns, for a child that ran to its end (or was killed by the timeout). */
export interface SpawnAsyncResult<T extends string | Buffer> {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: T;
  stderr: T;
  /** Set when the child could not be started (e.g. ENOENT) or was killed by the timeout. */
  error?: Error;
}

/** spawnSync's result shape, without blocking the event loop while the child runs. */
export function spawnAsync(cmd: string, args: readonly string[], opts: SpawnAsyncOptions & { encoding: BufferEncoding }): Promise<SpawnAsyncResult<string>>;
export function spawnAsync(cmd: string, args: readonly string[], opts?: SpawnAsyncOptions): Promise<SpawnAsyncResult<Buffer>>;
export function spawnAsync(cmd: string, args: readonly string[], opts: SpawnAsyncOptions = {}): Promise<SpawnAsyncResult<string | Buffer>> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let error: Error | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeout !== undefined) {
      timer = setTimeout(() => { error = new Error(`${cmd} killed after ${opts.timeout} ms`); child.kill('SIGKILL'); }, opts.timeout);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined); // a child that exits without reading its input
    child.stdin.end(opts.input ?? undefined);
    const text = (parts: Buffer[]): string | Buffer => (opts.encoding ? Buffer.concat(parts).toString(opts.encoding) : Buffer.concat(parts));
    child.on('error', (e) => { error = e; });
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ status, signal, stdout: text(out), stderr: text(err), error });
    });
  });
}

/**
 * A limit on how many of a file's concurrent tests run their processes at once: `it.concurrent` tests
 * wrap their work in the returned function. Scenario tests that mostly wait (failure timeouts, guest idle
 * time) overlap their waits this way without starting every process tree at once.
 */
export function concurrencyLimit(slots: number): <T>(work: () => Promise<T>) => Promise<T> {
  let free = slots;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (free > 0) free--;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
