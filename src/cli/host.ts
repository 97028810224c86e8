// Host set-up shared by `run` and `record`: parses machine/backends options, opens the backends
// (disk images, UDP frame tunnel, console), and builds a live machine around them.

import { readFileSync } from 'node:fs';
import { Machine, DEFAULT_MEM, MAX_CMDLINE, type MachineConfig } from '../machine/machine.js';
import { LiveGate, type GateRecord, type DiskBackend, type FrameInput } from '../machine/gate.js';
import { SystemClock, SystemEntropy } from '../devices/backends/clock.js';
import { FileDisk } from '../devices/backends/disk.js';
import { UdpFrameTunnel } from '../devices/backends/tunnel.js';
import { StdioConsole, FileConsole, TcpConsole, type ConsoleBackend } from '../devices/backends/console.js';
import { parseSize, parseCount, parseArgs } from './args.js';
import { checkInputFile } from './inputs.js';
import { decodeSnapshot } from '../replay/snapshot.js';
import { restoreSnapshot, type SnapshotMeta, type RestoredMachine } from '../replay/machine-snapshot.js';
import { HostResourceError, InvalidArgumentError, fsErrorText } from '../errors.js';
import { UsageError } from './usage.js';

/** Help lines of the machine options without the console ones (the FT roles have a console file instead). */
export const MACHINE_HELP_NO_CONSOLE = `  --mem SIZE              guest RAM (default 64M; suffixes K, M, G)
  --cmdline STRING        command line passed in the boot-info block
  --disk FILE             attach FILE as a virtio-blk disk (repeatable; FILE:ro for read-only)
  --net udp:[LHOST:]LPORT:HOST:PPORT
                          attach a virtio-net NIC whose frames travel in UDP datagrams, one frame
                          each, between LHOST:LPORT (default 127.0.0.1: this host only; 0.0.0.0
                          for every interface) and HOST:PPORT, which alone may send (repeatable)`;

export const MACHINE_HELP = `${MACHINE_HELP_NO_CONSOLE}
  --console stdio         COM1 on stdin/stdout (default; on a terminal stdin is raw: Ctrl-C goes to
                          the guest, Ctrl-A x stops x86ft, Ctrl-A Ctrl-A sends Ctrl-A)
  --console file:OUT[:IN] COM1 output to file OUT, input from file IN (a regular file, or a FIFO
                          read as it is written)
  --console tcp:PORT[,wait]
                          COM1 on a TCP server at 127.0.0.1:PORT (one client at a time; output
                          while none is connected is dropped, said once on stderr); ',wait': the
                          guest starts only when the first client has connected
  --no-input              do not read console input`;

export interface HostOptions {
  file?: string;
  mem: number;
  cmdline: string;
  disks: { path: string; readOnly: boolean }[];
  nets: { localHost: string; localPort: number; peerHost: string; peerPort: number }[];
  console: string;
  input: boolean;
  max: number;
  stats: boolean;
  rest: Map<string, string | true>;
}

/** Parses the common options; `extra` names options (with a value unless listed in `flags`) a command adds. */
export function parseHostArgs(argv: string[], extra: string[] = [], flags: string[] = []): HostOptions {
  const o: HostOptions = { mem: DEFAULT_MEM, cmdline: '', disks: [], nets: [], console: 'stdio', input: true, max: Infinity, stats: false, rest: new Map() };
  const own = (a: string, v: string | true): void => {
    if (typeof v !== 'string') { if (a === '--stats') o.stats = true; else if (a === '--no-input') o.input = false; else o.rest.set(a, true); return; }
    if (a === '--mem') o.mem = parseSize(v);
    else if (a === '--max-instructions') o.max = parseCount(v, a);
    else if (a === '--cmdline') {
      o.cmdline = v;
      const n = new TextEncoder().encode(o.cmdline).length;
      if (n > MAX_CMDLINE) throw new UsageError(`--cmdline is ${n} bytes; the boot-info block holds at most ${MAX_CMDLINE}`);
    } else if (a === '--disk') {
      const ro = v.endsWith(':ro');
      o.disks.push({ path: ro ? v.slice(0, -3) : v, readOnly: ro });
    } else if (a === '--net') {
      const m = /^udp:(?:([^:]+):)?(\d+):([^:]+):(\d+)$/.exec(v);
      if (!m) throw new UsageError(`--net expects udp:[LOCAL_HOST:]LOCAL_PORT:PEER_HOST:PEER_PORT`);
      const port = (p: string): number => { const n = Number(p); if (n > 65535) throw new UsageError(`--net: port ${p} is out of range (0-65535)`); return n; };
      o.nets.push({ localHost: m[1] ?? '127.0.0.1', localPort: port(m[2]), peerHost: m[3], peerPort: port(m[4]) });
    } else if (a === '--console') {
      if (!/^(stdio|file:[^:]+(:.+)?|tcp:\d+(,wait)?)$/.test(v)) throw new UsageError(`bad --console '${v}' (stdio, file:OUT[:IN] or tcp:PORT[,wait])`);
      if (v.startsWith('tcp:') && Number(/\d+/.exec(v)![0]) > 65535) throw new UsageError(`--console: port ${/\d+/.exec(v)![0]} is out of range (0-65535)`);
      o.console = v;
    } else o.rest.set(a, v);
  };
  const { positionals } = parseArgs(argv, {
    flags: ['--stats', '--no-input', ...flags],
    values: ['--mem', '--max-instructions', '--cmdline', '--disk', '--net', '--console', ...extra],
    emptyOk: ['--cmdline'], maxPositionals: 1, on: own,
  });
  o.file = positionals[0];
  if (o.file === undefined) throw new UsageError('missing guest ELF file');
  return o;
}

export interface LiveHost {
  image: Uint8Array;
  config: MachineConfig;
  machine: Machine;
  gate: LiveGate;
  console: ConsoleBackend;
  /** When the machine was restored from a snapshot: its hash, icount and metadata. */
  restored?: Omit<RestoredMachine, 'machine'>;
  /** Set when the user asked to stop (Ctrl-A x on a terminal console): pass to runAsync. */
  stop: { aborted: boolean };
  /** Closes every backend (flushes console output). */
  close(): Promise<void>;
}

/**
 * Opens the backends named by the options and boots a machine on a live gate, or, given
 * `snapshot` bytes, restores the snapshot's machine onto them (its configuration wins; the
 * backends must fit it; guest time, TSC and the RTC's wall origin go on from the snapshot's). Throws Error with a clear message.
 * `stop` becomes the host's `stop` (the caller's SIGINT/SIGTERM set it too); once set, a `tcp:PORT,wait`
 * console stops waiting for its client.
 */
export async function openLiveHost(o: HostOptions, onRecord?: (r: GateRecord) => void, snapshot?: Uint8Array, stop = { aborted: false }): Promise<LiveHost> {
  checkInputFile(o.file as string, 'ELF image');
  let image: Buffer;
  try { image = readFileSync(o.file as string); } catch (e) { throw new HostResourceError(`ELF image ${o.file}: cannot read (${fsErrorText(e)})`, o.file, { cause: e }); }
  let meta: SnapshotMeta | undefined;
  if (snapshot) meta = (decodeSnapshot(snapshot).sections as { meta: SnapshotMeta }).meta;
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const disks: DiskBackend[] = [];
    for (const d of o.disks) { const fd = FileDisk.open(d.path, { readOnly: d.readOnly }); disks.push(fd); closers.push(() => fd.close()); }
    const tunnels: UdpFrameTunnel[] = [];
    for (const n of o.nets) {
      const t = await UdpFrameTunnel.open({ localHost: n.localHost, localPort: n.localPort, peerHost: n.peerHost, peerPort: n.peerPort });
      tunnels.push(t); closers.push(() => t.close());
    }
    let con: ConsoleBackend;
    if (o.console === 'stdio') { con = new StdioConsole({ input: o.input, onEscape: () => { stop.aborted = true; } }); closers.push(() => con.close()); }
    else if (o.console.startsWith('file:')) { const [, out, inp] = o.console.split(':'); con = new FileConsole(out, inp); closers.push(() => con.close()); }
    else {
      const tcp = await TcpConsole.listen(Number(/\d+/.exec(o.console)![0]));
      con = tcp;
      closers.push(() => con.close());
      tcp.onDrop = () => process.stderr.write(`x86ft: console: no client connected to 127.0.0.1:${tcp.port}: guest output is dropped until one connects\n`);
      if (o.console.endsWith(',wait')) {
        process.stderr.write(`x86ft: waiting for a console client on 127.0.0.1:${tcp.port}\n`);
        await tcp.waitForClient(stop);
      }
    }
    const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy(), console: con, disks, nets: tunnels as FrameInput[] },
      { onRecord, resume: meta?.time });
    const io = { gate, consoleOut: (b: number) => con.write(b), netOut: (dev: number, f: Uint8Array) => tunnels[dev].send(f) };
    let config: MachineConfig, machine: Machine, restored: LiveHost['restored'];
    if (snapshot) {
      const { machine: m, ...rest } = restoreSnapshot(snapshot, io);
      config = rest.config; machine = m; restored = rest;
      const sd = config.disks ?? [];
      if (sd.length !== disks.length || sd.some((d, n) => d.sizeBytes !== disks[n]!.size)) {
        throw new InvalidArgumentError(`the snapshot's machine has ${sd.length} disk(s) (${sd.map((d) => `${d.sizeBytes} bytes`).join(', ') || 'none'}): give matching --disk images`);
      }
      if ((config.nets ?? []).length !== tunnels.length) throw new InvalidArgumentError(`the snapshot's machine has ${(config.nets ?? []).length} NIC(s): give as many --net options`);
    } else {
      config = {
        memSize: o.mem, cmdline: o.cmdline,
        disks: disks.map((d, n) => ({ sizeBytes: d.size, readOnly: o.disks[n].readOnly })),
        nets: o.nets.map(() => ({})),
      };
      machine = Machine.fromElf(image, { ...config, ...io });
    }
    return {
      image, config, machine, gate, console: con, stop, restored,
      close: async () => { for (const c of closers.reverse()) await c(); },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c();
    throw e;
  }
}
