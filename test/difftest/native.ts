// Difference test: builds the native runner (native/runner.c) into test/difftest/build/ and runs a batch of
// assembled cases on the host CPU. Test-only; touches the host by design.

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Assembled } from './asm.js';

/** Final (or faulting) machine state of one case, from either side. */
export interface State {
  /** 'end': ran to the end of the sequence; 'fault': stopped by an exception; 'error': the side failed (message in error). */
  status: 'end' | 'fault' | 'error';
  /** Exception vector when status is 'fault' (the CPU's trap number natively). */
  vector: number;
  /** Offset of RIP from the case start (at the fault, or the end). */
  ripOff: number;
  /** 16 GPRs as [lo, hi] unsigned 32-bit halves. */
  regs: Uint32Array;
  rflags: number;
  /** x87/MXCSR/XMM state as an FXSAVE64 image (pointer fields FOP/FIP/FDP are not compared). */
  fx: Uint8Array;
  /** Scratch bytes that differ from their initial values: offset -> byte. */
  mem: Map<number, number>;
  error?: string;
}

/** The repository root (the folder with package.json), from this file's location in test/ or dist/test/. */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let k = 0; k < 6; k++) {
    if (existsSync(join(d, 'package.json'))) return d;
    d = dirname(d);
  }
  throw new Error('difftest: cannot find the repository root');
}

let runner = '';
export function runnerPath(): string {
  if (runner) return runner;
  const root = repoRoot();
  const src = join(root, 'test', 'difftest', 'native', 'runner.c');
  const code = readFileSync(src);
  const h = createHash('sha1').update(code).digest('hex').slice(0, 12);
  const dir = join(root, 'test', 'difftest', 'build');
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, `runner-${h}`);
  if (!existsSync(exe)) {
    const tmp = `${exe}.tmp${process.pid}`;
    execFileSync('gcc', ['-O2', '-fPIE', '-pie', '-Wall', '-o', tmp, src]);
    execFileSync('mv', [tmp, exe]);
  }
  runner = exe;
  return exe;
}

const CODE_ADDR = 0x400000;

/** Run the runner asynchronously (a long synchronous spawn would starve the test worker's event loop). */
function execRunner(input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(runnerPath(), { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    const timer = setTimeout(() => p.kill('SIGKILL'), 600_000);
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => err.push(d));
    p.on('error', (e) => { clearTimeout(timer); reject(e); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`difftest runner failed (status ${code}, signal ${signal}): ${Buffer.concat(err)}`));
      else resolve(Buffer.concat(out));
    });
    p.stdin.end(input);
  });
}

/** Run assembled cases on the host CPU. */
export async function runNative(cases: Assembled[]): Promise<State[]> {
  let size = 8;
  for (const a of cases) size += 12 + 17 * 8 + 512 + a.code.length;
  const buf = Buffer.alloc(size);
  buf.write('XDT2', 0, 'latin1');
  buf.writeUInt32LE(cases.length, 4);
  let p = 8;
  for (const a of cases) {
    buf.writeUInt32LE(a.c.fillSeed >>> 0, p); buf.writeUInt32LE(a.c.fillMode, p + 4); buf.writeUInt32LE(a.code.length, p + 8); p += 12;
    for (const r of a.c.regs) { buf.writeBigUInt64LE(r, p); p += 8; }
    buf.writeBigUInt64LE(BigInt(a.c.rflags), p); p += 8;
    buf.set(a.c.fx, p); p += 512;
    buf.set(a.code, p); p += a.code.length;
  }
  const out = await execRunner(buf);
  const states: State[] = [];
  p = 0;
  for (let k = 0; k < cases.length; k++) {
    const status = out.readUInt32LE(p), trapno = out.readUInt32LE(p + 8);
    p += 16;
    const rip = Number(out.readBigUInt64LE(p)); p += 8;
    const regs = new Uint32Array(32);
    for (let n = 0; n < 32; n++) regs[n] = out.readUInt32LE(p + 4 * n);
    p += 128;
    const rflags = Number(out.readBigUInt64LE(p)); p += 8;
    const fx = new Uint8Array(out.subarray(p, p + 512)); p += 512;
    const nd = out.readUInt32LE(p); p += 4;
    const mem = new Map<number, number>();
    for (let j = 0; j < nd; j++, p += 4) { const w = out.readUInt32LE(p); mem.set(w >>> 8, w & 0xff); }
    states.push({ status: status === 0 ? 'end' : 'fault', vector: status === 0 ? -1 : trapno, ripOff: rip - CODE_ADDR, regs, rflags, fx, mem });
  }
  return states;
}
