// What both FT roles build from a VM's configuration (VmConfig in the control plane): the machine
// configuration, generation g's disks (store.ts layers), the console file sink, NIC tunnels, and
// the generation log sink that writes to the file before it sends on the channel. Imports
// src/machine, src/replay, src/devices/backends and store.ts; not the roles.

import { closeSync, fsyncSync, openSync, readFileSync, writeSync, constants } from 'node:fs';
import { createHash } from 'node:crypto';
import type { MachineConfig } from '../machine/machine.js';
import type { OutputSinks } from '../machine/outputs.js';
import type { ByteSink, SinkStats } from '../replay/channel.js';
import { UdpFrameTunnel } from '../devices/backends/tunnel.js';
import { openGenerationDisk, storePath, ensureVmDir, ConsoleFile, type GenerationDisk } from './store.js';
import type { VmConfig, FtOptions } from './control.js';
import type { ChannelEnd } from './channel.js';
import type { FtMessage } from './protocol.js';
import { InvalidArgumentError, InvalidStateError } from '../errors.js';

/** FT.md defaults: --heartbeat-ms 50, --failure-timeout-ms 500, --max-held-bytes 4 MiB, --max-held-ms 200, --max-lag-ms 50. */
export const DEFAULT_FT_OPTIONS: FtOptions = { heartbeatMs: 50, failureTimeoutMs: 500, maxHeldBytes: 4 << 20, maxHeldMs: 200, maxLagMs: 50 };

/** A `--disk` argument: FILE or FILE:ro. */
export function parseDiskArg(a: string): { path: string; readOnly: boolean } {
  return a.endsWith(':ro') ? { path: a.slice(0, -3), readOnly: true } : { path: a, readOnly: false };
}

/** A `--net` argument: udp:[LHOST:]LPORT:HOST:PPORT. */
export function parseNetArg(a: string): { localHost: string; localPort: number; peerHost: string; peerPort: number } {
  const m = /^udp:(?:([^:]+):)?(\d+):([^:]+):(\d+)$/.exec(a);
  if (!m) throw new InvalidArgumentError(`--net expects udp:[LOCAL_HOST:]LOCAL_PORT:PEER_HOST:PEER_PORT (got '${a}')`);
  return { localHost: m[1] ?? '127.0.0.1', localPort: Number(m[2]), peerHost: m[3]!, peerPort: Number(m[4]) };
}

/** The guest image, checked against the VM's SHA-256. */
export function loadImage(c: VmConfig): Uint8Array {
  const image = new Uint8Array(readFileSync(c.image));
  const sha = createHash('sha256').update(image).digest('hex');
  if (sha !== c.imageSha256) throw new InvalidArgumentError(`${c.image}: SHA-256 ${sha} is not the VM's ${c.imageSha256}`);
  return image;
}

/** The machine configuration of a VM (disk sizes from the base images via the layers). */
export function machineConfig(c: VmConfig, disks: readonly GenerationDisk[]): MachineConfig {
  return {
    memSize: c.memorySize, cmdline: c.cmdline,
    disks: c.disks.map((d, n) => ({ sizeBytes: disks[n]!.size, readOnly: parseDiskArg(d).readOnly })),
    nets: c.nets.map(() => ({})),
  };
}

/** Generation g's disks (writes go to g's own layer only: FT.md "Fencing"); layers below
 *  `firstGeneration` (VmRecord.firstGeneration) belong to an earlier VM of that name. */
export function openDisks(vm: string, c: VmConfig, generation: number, firstGeneration = 1): GenerationDisk[] {
  const out: GenerationDisk[] = [];
  try {
    c.disks.forEach((arg, n) => {
      const d = parseDiskArg(arg);
      out.push(openGenerationDisk({ store: c.store, vm, disk: n, base: d.path, generation, readOnly: d.readOnly, firstGeneration }));
    });
  } catch (e) { for (const d of out) d.close(); throw e; }
  return out;
}

/** The console file: created (truncated) when the VM is created, opened as is at a failover. */
export function consoleFileFor(vm: string, c: VmConfig, create: boolean): ConsoleFile {
  const path = c.consoleFile ?? storePath(c.store, vm, { kind: 'console' });
  if (!c.consoleFile) ensureVmDir(c.store, vm);
  return create ? ConsoleFile.create(path) : ConsoleFile.open(path);
}

/** Opens the VM's NIC tunnels (the primary's endpoints; retried while an old primary still holds a port). */
export async function openTunnels(c: VmConfig, retryMs = 0): Promise<UdpFrameTunnel[]> {
  const out: UdpFrameTunnel[] = [];
  for (const a of c.nets) {
    const n = parseNetArg(a);
    const until = Date.now() + retryMs;
    for (;;) {
      try { out.push(await UdpFrameTunnel.open(n)); break; } catch (e) {
        if (Date.now() >= until) { for (const t of out) t.close(); throw e; }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  return out;
}

/** The output sinks of a primary: console bytes at their offsets, disks, tunnels. */
export function outputSinks(con: ConsoleFile, disks: readonly GenerationDisk[], tunnels: readonly UdpFrameTunnel[]): OutputSinks {
  return {
    console: (b, seq) => con.writeByte(seq - 1, b),
    batch: (on) => con.batch(on),
    disks,
    frame: (nic, f) => tunnels[nic]?.send(f),
  };
}

/**
 * The generation log: every chunk is written to STORE/vms/NAME/gen-<g>.log first, then sent on the
 * channel (when a secondary is attached), so the file holds at least what the secondary received.
 */
export class GenerationLogSink implements ByteSink {
  readonly stats: SinkStats = { bytes: 0, waits: 0 };
  /** The secondary's channel, when one is attached. */
  peer: ChannelEnd<FtMessage> | undefined;
  private fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  }

  async write(chunk: Uint8Array): Promise<void> { this.writeSync(chunk); }

  /** Into the file first, then to the secondary (FT.md: the file holds at least what S received); complete on return. */
  writeSync(chunk: Uint8Array): void {
    if (this.fd < 0) throw new InvalidStateError(`${this.path}: closed`);
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done);
    this.stats.bytes += chunk.length;
    this.peer?.send({ t: 'log', bytes: chunk });
  }

  async end(): Promise<void> {
    if (this.fd < 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  destroy(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}
