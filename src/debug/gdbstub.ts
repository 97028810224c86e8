// GDB remote serial protocol stub (GDB manual, Appendix E "Remote Protocol") over a Machine, on
// 127.0.0.1 only. Breakpoints, watchpoints and single-step are the CPU's execution hooks (src/cpu/hooks.ts):
// software breakpoints (Z0) never write an INT3 into guest memory, so the guest and the digests see nothing.
// Memory is read by virtual address through a side-effect-free page walk (no A/D bits, no TLB fill, no CR2);
// an unmapped address answers E14. In replay mode writes to registers or memory are refused (E.message):
// the replay must stay the recorded run. Over a replay timeline (timeline.ts) the stub also executes in
// reverse: bs (reverse-stepi; gdb builds reverse-step and reverse-finish on it) and bc (reverse-continue,
// breakpoints and watchpoints honoured backwards); the ends of the history are reported as replaylog.
//
// Supported: qSupported, qXfer:features:read (target.xml: org.gnu.gdb.i386.core/sse/segments: GPRs, RIP,
// EFLAGS, selectors, x87, XMM, MXCSR, fs_base/gs_base), ?, g, p, m, x-less binary-free reads, Z0/Z1 (same
// mechanism), Z2/Z3/Z4 watchpoints, c, s, vCont (c, s), Ctrl-C, k, D, qRcmd (monitor icount|checkpoints|help);
// the guest's exit reported as W; with a timeline bs/bc (without one they answer empty: gdb reports
// "Target does not support this").

import { createServer, type Server, type Socket } from 'node:net';
import type { Machine, RunResult } from '../machine/machine.js';
import { Hooks, type DebugStop, type MemAccess } from '../cpu/hooks.js';
import type { X87State } from '../cpu/ops/x87.js';
import type { ReplayTimeline, TimelineStop } from './timeline.js';

export interface GdbStubOptions {
  /** TCP port on 127.0.0.1 (0: any free port; see listening()). */
  port: number;
  /** Replay mode: register and memory writes are refused. */
  replay: boolean;
  /** The replay's timeline (replay mode): forward execution goes through it, and reverse execution. */
  timeline?: ReplayTimeline;
  /** Progress/status lines (default: stderr). */
  log?: (line: string) => void;
}

const REGS64 = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rbp', 'rsp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
/** GDB's order (rax rbx rcx rdx rsi rdi rbp rsp) → the CPU's register numbers (RAX RCX RDX RBX RSP RBP RSI RDI). */
const GPR_INDEX = [0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15];
const SEGS = ['cs', 'ss', 'ds', 'es', 'fs', 'gs'];
const SEG_INDEX = [1, 2, 3, 0, 4, 5]; // cpu.sel is ES CS SS DS FS GS
const X87_CTRL = ['fctrl', 'fstat', 'ftag', 'fiseg', 'fioff', 'foseg', 'fooff', 'fop'];

/** The x86-64 target description (register numbers follow the order of declaration). */
export function targetXml(): string {
  const r = (name: string, bits: number, type: string, group = '') => `<reg name="${name}" bitsize="${bits}" type="${type}"${group ? ` group="${group}"` : ''}/>`;
  return `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>i386:x86-64</architecture>` +
    `<feature name="org.gnu.gdb.i386.core">` +
    `<flags id="i386_eflags" size="4"><field name="CF" start="0" end="0"/><field name="" start="1" end="1"/><field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/><field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/><field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/><field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/><field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/><field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/><field name="VIF" start="19" end="19"/><field name="VIP" start="20" end="20"/><field name="ID" start="21" end="21"/></flags>` +
    REGS64.map((n) => r(n, 64, n === 'rbp' || n === 'rsp' ? 'data_ptr' : 'int64')).join('') +
    r('rip', 64, 'code_ptr') + r('eflags', 32, 'i386_eflags') + SEGS.map((n) => r(n, 32, 'int32')).join('') +
    Array.from({ length: 8 }, (_, k) => r(`st${k}`, 80, 'i387_ext')).join('') +
    X87_CTRL.map((n) => r(n, 32, 'int', 'float')).join('') + `</feature>` +
    `<feature name="org.gnu.gdb.i386.sse">` +
    `<vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/><vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/><vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/>` +
    `<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>` +
    `<flags id="i386_mxcsr" size="4"><field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/><field name="ZE" start="2" end="2"/><field name="OE" start="3" end="3"/><field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/><field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/><field name="DM" start="8" end="8"/><field name="ZM" start="9" end="9"/><field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/><field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/></flags>` +
    Array.from({ length: 16 }, (_, k) => r(`xmm${k}`, 128, 'vec128')).join('') + r('mxcsr', 32, 'i386_mxcsr', 'vector') + `</feature>` +
    `<feature name="org.gnu.gdb.i386.segments">` + r('fs_base', 64, 'int') + r('gs_base', 64, 'int') + `</feature></target>`;
}

const hex8 = (b: number) => (b & 0xff).toString(16).padStart(2, '0');
/** Little-endian hex of `bytes` bytes of the non-negative or sign-extended integer v (< 2^64). */
function leHex(v: number | bigint, bytes: number): string {
  let x = BigInt.asUintN(bytes * 8, BigInt(v));
  let s = '';
  for (let k = 0; k < bytes; k++) { s += hex8(Number(x & 0xffn)); x >>= 8n; }
  return s;
}

/** Register `n` (target.xml numbering) as little-endian hex, or null for no such register. */
export function readRegister(m: Machine, n: number): string | null {
  const c = m.cpu;
  if (n < 16) { const g = GPR_INDEX[n]; return leHex((BigInt(c.regs[2 * g + 1]) << 32n) | BigInt(c.regs[2 * g] >>> 0), 8); }
  if (n === 16) return leHex(c.rip, 8);
  if (n === 17) return leHex(c.getRflags(), 4);
  if (n < 24) return leHex(c.sel[SEG_INDEX[n - 18]], 4);
  const f = c.x87 as X87State | null;
  if (n < 32) {
    if (f === null) return '0'.repeat(20);
    const p = (f.top + n - 24) & 7;
    return leHex(f.st[3 * p], 4) + leHex(f.st[3 * p + 1], 4) + leHex(f.st[3 * p + 2], 2);
  }
  if (n < 40) {
    const cw = f?.cw ?? 0x37f, sw = f === null ? 0 : (f.sw | (f.top << 11)) & 0xffff;
    // ftag: the full tag word gdb expects (00 valid, 11 empty; valid registers reported as valid)
    let tag = 0;
    for (let p = 0; p < 8; p++) if (f === null || f.emp & (1 << p)) tag |= 3 << (2 * p);
    const vals = [cw, sw, tag, 0, f?.fip ?? 0, 0, f?.fdp ?? 0, f?.fop ?? 0];
    return leHex(vals[n - 32], 4);
  }
  if (n < 56) { let s = ''; for (let k = 0; k < 4; k++) s += leHex(c.xmm[4 * (n - 40) + k] >>> 0, 4); return s; }
  if (n === 56) return leHex(c.mxcsr, 4);
  if (n === 57) return leHex(c.fsBase, 8);
  if (n === 58) return leHex(c.gsBase, 8);
  return null;
}
export const REGISTER_COUNT = 59;

/**
 * Linear → physical without side effects (no A/D bits, no TLB fill, no CR2, no fault): null when the
 * address is not mapped or not canonical. Same walk as Cpu.translate (SDM Vol. 3 §4.5), permissions ignored.
 */
export function peekTranslate(m: Machine, la: number): number | null {
  const c = m.cpu;
  const TWO32 = 4294967296;
  const hi = Math.floor(la / TWO32);
  if (hi < -32768 || hi > 32767) return null;
  if (!(c.cr0 & 0x80000000)) return la >>> 0;
  const lo = la >>> 0, dv = m.mem.dv, size = m.mem.size;
  let table = c.cr3 & 0xfffff000;
  const idx = [(hi >>> 7) & 511, ((hi << 2) | (lo >>> 30)) & 511, (lo >>> 21) & 511, (lo >>> 12) & 511];
  for (let level = 0; level < 4; level++) {
    const ea = table + idx[level] * 8;
    if (ea + 8 > size) return null;
    const e = dv.getUint32(ea, true), eh = dv.getUint32(ea + 4, true);
    if (!(e & 1)) return null;
    const base = (eh & 0xfffff) * TWO32;
    if (level === 1 && (e & 0x80)) return base + ((e & 0xc0000000) >>> 0) + (lo & 0x3fffffff);
    if (level === 2 && (e & 0x80)) return base + ((e & 0xffe00000) >>> 0) + (lo & 0x1fffff);
    table = base + ((e & 0xfffff000) >>> 0);
  }
  return table + (lo & 4095);
}

/** `len` bytes at linear `la`, or null if any byte is unmapped or outside RAM. */
export function peekMemory(m: Machine, la: number, len: number): Uint8Array | null {
  const out = new Uint8Array(len);
  for (let k = 0; k < len; k++) {
    const p = peekTranslate(m, la + k);
    if (p === null || p >= m.mem.size) return null;
    out[k] = m.mem.u8[p];
  }
  return out;
}

function checksum(s: string): string { let sum = 0; for (let k = 0; k < s.length; k++) sum = (sum + s.charCodeAt(k)) & 0xff; return hex8(sum); }

const SIGTRAP = 5, SIGINT = 2, SIGSEGV = 11;
/** Longest packet accepted, in bytes (PacketSize in qSupported is 0x4000; gdb's own packets are far shorter). */
const MAX_PACKET = 0x10000;

/** A gdb stub serving one machine; one client at a time. */
export class GdbStub {
  private readonly hooks = new Hooks();
  private readonly watch = new Map<string, number[]>();
  private server: Server | null = null;
  private sock: Socket | null = null;
  private buf = '';
  /** The client sent a well-formed packet: it is gdb (see accept). */
  private isGdb = false;
  private peer = '';
  private running = false;
  private interrupt = { aborted: false };
  private finished: RunResult | null = null;
  private closed!: () => void;
  /** Settles when the session ends (gdb detached/killed, or the guest's end was reported and gdb left). */
  readonly done: Promise<void>;
  private readonly log: (line: string) => void;

  constructor(private readonly m: Machine, private readonly opts: GdbStubOptions) {
    this.log = opts.log ?? ((l) => process.stderr.write(l + '\n'));
    this.done = new Promise((r) => { this.closed = r; });
    m.cpu.setHooks(this.hooks);
  }

  /** Starts listening on 127.0.0.1; resolves with the port. Rejects when the port is in use. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = this.server = createServer((s) => this.accept(s));
      srv.once('error', reject);
      srv.listen(this.opts.port, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        this.log(`x86ft: waiting for gdb on 127.0.0.1:${port} (target remote :${port})`);
        resolve(port);
      });
    });
  }

  close(): void {
    this.sock?.destroy(); this.server?.close(); this.m.cpu.setHooks(null); this.closed();
  }

  /** How the guest ended, once it has (null while it can still run). */
  get result(): RunResult | null { return this.finished; }

  /**
   * One client at a time. A client counts as gdb once it sent a packet with a correct checksum; until then
   * it is dropped (stderr line, the stub keeps waiting) when it sends anything the GDB remote protocol does
   * not start with ('+', '-', Ctrl-C, '$' packets), a bad checksum or an overlong packet, when it closes,
   * or when another client connects. Once gdb is connected, its disconnection ends the session.
   */
  private accept(s: Socket): void {
    const peer = `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`;
    if (this.sock !== null) {
      if (this.isGdb) { this.log(`x86ft: gdb stub: refused a connection from ${peer}: gdb is already connected (one at a time)`); s.destroy(); return; }
      this.drop('another client connected');
    }
    this.sock = s;
    this.isGdb = false;
    this.peer = peer;
    this.buf = '';
    s.setNoDelay(true);
    s.setEncoding('latin1');
    s.on('data', (d: string) => { if (this.sock === s) this.onData(d); });
    s.on('error', () => {});
    s.on('close', () => {
      if (this.sock !== s) return; // dropped already
      if (!this.isGdb) { this.drop('it closed the connection'); return; }
      this.sock = null; this.interrupt.aborted = true; this.close();
    });
  }

  /** Drops the current client, which has not shown itself to be gdb; the stub goes on waiting for gdb. */
  private drop(why: string): void {
    const s = this.sock!;
    this.sock = null;
    this.buf = '';
    s.destroy();
    const port = (this.server?.address() as { port: number } | null)?.port;
    this.log(`x86ft: gdb stub: dropped the client ${this.peer}, which does not speak the GDB remote protocol (${why}); still waiting for gdb on 127.0.0.1:${port}`);
  }

  private onData(d: string): void {
    this.buf += d;
    for (;;) {
      // acknowledgements and Ctrl-C come outside packets
      while (this.buf.length > 0 && this.buf[0] !== '$') {
        const c = this.buf.charCodeAt(0);
        if (c === 3 && this.running) this.interrupt.aborted = true;
        else if (c !== 3 && c !== 0x2b && c !== 0x2d && !this.isGdb) return this.drop(`it sent ${JSON.stringify(this.buf.slice(0, 24))}`);
        this.buf = this.buf.slice(1);
      }
      const end = this.buf.indexOf('#');
      if (end < 0 || this.buf.length < end + 3) {
        if (this.buf.length > MAX_PACKET) {
          if (!this.isGdb) return this.drop(`a packet of more than ${MAX_PACKET} bytes`);
          this.log(`x86ft: gdb stub: a packet of more than ${MAX_PACKET} bytes discarded`);
          this.buf = '';
        }
        return;
      }
      const body = this.buf.slice(1, end), sum = this.buf.slice(end + 1, end + 3);
      this.buf = this.buf.slice(end + 3);
      if (checksum(body) !== sum.toLowerCase()) {
        if (!this.isGdb) return this.drop(`it sent ${JSON.stringify(('$' + body + '#' + sum).slice(0, 24))} with a wrong checksum`);
        this.sock?.write('-'); // gdb sends it again
        continue;
      }
      this.isGdb = true;
      this.sock?.write('+');
      void this.handle(body).catch((e) => { this.log(`x86ft: gdb stub: ${(e as Error).message}`); this.send('E01'); });
    }
  }

  private send(body: string): void { this.sock?.write(`$${body}#${checksum(body)}`); }

  private async handle(p: string): Promise<void> {
    const m = this.m;
    if (p === '?') return this.send(this.finished ? this.exitPacket(this.finished) : `S${hex8(SIGTRAP)}`);
    if (p.startsWith('qSupported')) return this.send('PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;error-message+' + (this.opts.timeline ? ';ReverseStep+;ReverseContinue+' : ''));
    if (p.startsWith('qRcmd,')) return this.monitor(Buffer.from(p.slice(6), 'hex').toString('latin1').trim());
    if (p.startsWith('qXfer:features:read:target.xml:')) {
      const [off, len] = p.slice('qXfer:features:read:target.xml:'.length).split(',').map((x) => parseInt(x, 16));
      const xml = targetXml();
      const part = xml.slice(off, off + len);
      return this.send((off + len >= xml.length ? 'l' : 'm') + part);
    }
    if (p === 'qAttached') return this.send('1');
    if (p === 'qC') return this.send('QC1');
    if (p === 'qfThreadInfo') return this.send('m1');
    if (p === 'qsThreadInfo') return this.send('l');
    if (p.startsWith('H')) return this.send('OK');
    if (p === 'vCont?') return this.send('vCont;c;C;s;S');
    if (p === 'g') { let s = ''; for (let n = 0; n < REGISTER_COUNT; n++) s += readRegister(m, n); return this.send(s); }
    if (p.startsWith('p')) { const v = readRegister(m, parseInt(p.slice(1), 16)); return this.send(v ?? 'E45'); }
    if (p.startsWith('m')) {
      const [a, l] = p.slice(1).split(',');
      const bytes = peekMemory(m, Number(BigInt.asIntN(64, BigInt('0x' + a))), Math.min(parseInt(l, 16), 0x1000));
      return this.send(bytes === null ? 'E14' : Array.from(bytes, hex8).join(''));
    }
    if (p.startsWith('G') || p.startsWith('P') || p.startsWith('M') || p.startsWith('X')) {
      return this.send(this.opts.replay ? 'E.writing registers or memory is refused during replay: the replay must stay the recorded run'
        : 'E.writing registers or memory is not supported by this stub');
    }
    if (p[0] === 'Z' || p[0] === 'z') return this.send(this.breakpoint(p));
    if (p === 'c' || p.startsWith('c') || p === 'vCont;c' || p.startsWith('vCont;c') || p.startsWith('C')) return this.resume(false);
    if (p === 's' || p.startsWith('s') || p.startsWith('vCont;s') || p.startsWith('S')) return this.resume(true);
    if (p === 'k' || p.startsWith('D')) { if (p.startsWith('D')) this.send('OK'); this.close(); return; }
    if ((p === 'bs' || p === 'bc') && this.opts.timeline) return this.reverse(p === 'bs');
    return this.send(''); // not supported (bs/bc without a timeline included)
  }

  /** Z/z packets: type 0/1 breakpoints (hook breakpoints, memory untouched), 2/3/4 watchpoints. */
  private breakpoint(p: string): string {
    const insert = p[0] === 'Z';
    const [t, a, k] = p.slice(1).split(',');
    const type = Number(t), addr = Number(BigInt.asIntN(64, BigInt('0x' + a))), len = parseInt(k, 16);
    const h = this.hooks;
    if (type === 0 || type === 1) { if (insert) h.breakpoints.add(addr); else h.breakpoints.delete(addr); return 'OK'; }
    if (type < 2 || type > 4) return '';
    const key = `${type},${addr},${len}`;
    if (!insert) { for (const id of this.watch.get(key) ?? []) h.del(id); this.watch.delete(key); return 'OK'; }
    const ids: number[] = [];
    const fn = () => { h.stopAfter(); };
    if (type === 2 || type === 4) ids.push(h.add({ kind: 'mem-write', begin: addr, end: addr + len, fn }));
    if (type === 3 || type === 4) ids.push(h.add({ kind: 'mem-read', begin: addr, end: addr + len, fn }));
    this.watch.set(key, [...(this.watch.get(key) ?? []), ...ids]);
    return 'OK';
  }

  private exitPacket(r: RunResult): string {
    if (r.end === 'exit') return `W${hex8(r.status)}`;
    if (r.end === 'fault' || r.end === 'internal-error') return `T${hex8(SIGSEGV)}`;
    return 'W00'; // halted with interrupts off: the guest can never run again
  }

  /** monitor COMMAND (qRcmd): the answer goes to gdb's console as O packets. */
  private monitor(cmd: string): void {
    const tl = this.opts.timeline;
    let out: string;
    if (cmd === 'icount') out = `instruction count: ${this.m.cpu.icount}\n`;
    else if (cmd === 'checkpoints' && tl) {
      const st = tl.checkpointStats;
      out = `checkpoints: ${st.count} (every ${tl.every} instructions, last at ${st.frontier}); RAM page versions kept: ${st.pages} (${st.ramBytes / 4096} stored, ${(st.ramBytes / 1048576).toFixed(1)} MiB; the other ${st.pages - st.ramBytes / 4096} are all-zero pages, shared)\n`;
    } else out = `monitor commands: icount (instructions retired so far)${tl ? ', checkpoints (reverse-execution checkpoints and their memory)' : ''}\n`;
    this.send('O' + Buffer.from(out, 'latin1').toString('hex'));
    this.send('OK');
  }

  /** A timeline stop as a stop reply. */
  private timelineReply(s: TimelineStop): string {
    switch (s.kind) {
      case 'debug': return this.debugReply(s.reason);
      case 'signal': return `T${hex8(SIGINT)}thread:1;`;
      case 'begin': return `T${hex8(SIGTRAP)}replaylog:begin;thread:1;`;
      case 'end':
        if (s.message) this.log(`x86ft: the replay cannot go on: ${s.message}`);
        return `T${hex8(SIGTRAP)}replaylog:end;thread:1;`;
      case 'finished':
        if (s.run.end === 'fault') this.log(`x86ft: guest fault: ${s.run.message}`);
        this.finished = s.run;
        return this.exitPacket(s.run);
    }
  }

  private debugReply(why: DebugStop | null): string {
    let info = '';
    if (why?.kind === 'watch') info = `${why.access === 'read' ? 'rwatch' : 'watch'}:${BigInt.asUintN(64, BigInt(why.address)).toString(16)};`;
    else if (why?.kind === 'breakpoint') info = 'swbreak:;';
    return `T${hex8(SIGTRAP)}${info}thread:1;`;
  }

  /** Runs a timeline operation with Ctrl-C armed. */
  private async timelineOp(op: (signal: { aborted: boolean }) => Promise<TimelineStop>): Promise<void> {
    this.interrupt = { aborted: false };
    this.running = true;
    let s: TimelineStop;
    try { s = await op(this.interrupt); } finally { this.running = false; }
    return this.send(this.timelineReply(s));
  }

  private async reverse(step: boolean): Promise<void> {
    if (this.finished) return this.send(this.exitPacket(this.finished));
    const tl = this.opts.timeline!;
    return this.timelineOp((signal) => (step ? tl.stepBack(signal) : tl.continueBack(this.hooks, signal)));
  }

  private async resume(step: boolean): Promise<void> {
    if (this.finished) return this.send(this.exitPacket(this.finished));
    const tl = this.opts.timeline;
    if (tl) {
      // nothing to watch for: the fast paths (hooks force one instruction at a time)
      const idle = !step && this.hooks.breakpoints.size === 0 && !this.hooks.watchesMemory;
      return this.timelineOp((signal) => tl.forward(idle ? null : this.hooks, step, signal));
    }
    const h = this.hooks, c = this.m.cpu;
    h.stepping = step;
    h.skipBreakpointOnce(c.rip);
    this.interrupt = { aborted: false };
    this.running = true;
    let r: RunResult;
    try { r = await this.m.runAsync(Infinity, this.interrupt); } finally { this.running = false; h.stepping = false; }
    if (r.end === 'debug') return this.send(this.debugReply(h.reason));
    if (r.end === 'budget' || r.end === 'wait-log') return this.send(`T${hex8(SIGINT)}thread:1;`);
    if (r.end === 'fault') this.log(`x86ft: guest fault: ${r.message}`);
    this.finished = r;
    return this.send(this.exitPacket(r));
  }
}

export type { MemAccess };
