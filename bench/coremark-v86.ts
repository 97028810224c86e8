// CoreMark on the v86 peer (npm `v86`, a devDependency): the same CoreMark sources built as a 32-bit
// multiboot kernel (guests/build/coremark-mb32.elf, our port in guests/coremark), loaded by v86 itself
// (no BIOS). The kernel has no clock of its own: the time of a run is the host's between the
// "coremark-mark: start" and "coremark-mark: stop" lines it prints around CoreMark's timed loop.
import './env-check.js'; // first: a bad X86FT_* value is one line, exit 2
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface V86Run {
  /** CoreMark's report (COM1 output). */
  output: string;
  /** Host seconds between the start and stop marks (CoreMark's timed region). */
  timedS: number;
  /** Host seconds from creating the emulator to the stop mark (boot, load, JIT warm-up included). */
  wallS: number;
  /** This process's CPU seconds over the same span. */
  cpuS: number;
}

/** Where v86's files are, or an error that says how to get them. */
function v86Wasm(): string {
  let main: string;
  try {
    main = createRequire(import.meta.url).resolve('v86');
  } catch {
    throw new Error("npm package 'v86' is not installed (a devDependency): run 'npm install'");
  }
  const wasm = join(dirname(main), 'v86.wasm');
  if (!existsSync(wasm)) throw new Error(`v86 is installed but ${wasm} is missing`);
  return wasm;
}

/** Runs the multiboot CoreMark kernel in v86 with `cmdline`; rejects after `timeoutMs`. */
export async function runV86(kernel: string, cmdline: string, timeoutMs = 600_000): Promise<V86Run> {
  const wasm_path = v86Wasm();
  const { V86 } = await import('v86');
  const img = readFileSync(kernel);
  const buffer = img.buffer.slice(img.byteOffset, img.byteOffset + img.byteLength);
  const t0 = performance.now(), c0 = process.cpuUsage();
  const emu = new V86({ wasm_path, memory_size: 32 << 20, multiboot: { buffer }, cmdline, autostart: true, disable_speaker: true });
  return new Promise<V86Run>((resolve, reject) => {
    let line = '', output = '', tStart = -1, tStop = -1, cpuS = 0;
    const timer = setTimeout(() => { void emu.destroy(); reject(new Error(`v86 CoreMark run did not finish in ${timeoutMs} ms`)); }, timeoutMs);
    emu.add_listener('serial0-output-byte', (b: number) => {
      if (b !== 10) { line += String.fromCharCode(b); return; }
      const now = performance.now();
      if (line === 'coremark-mark: start') tStart = now;
      else if (line === 'coremark-mark: stop') { tStop = now; const c = process.cpuUsage(c0); cpuS = (c.user + c.system) / 1e6; }
      else output += line + '\n';
      if (line.startsWith('coremark-exit:')) {
        clearTimeout(timer);
        void emu.destroy();
        if (tStart < 0 || tStop < 0) reject(new Error('v86 CoreMark run printed no start/stop marks'));
        else resolve({ output, timedS: (tStop - tStart) / 1000, wallS: (tStop - t0) / 1000, cpuS });
      }
      line = '';
    });
  });
}
