// `x86ft ft export-disk [NAME] --out FILE`: the current content of an FT VM's disk (base image +
// every generation's layer, src/ft/store.ts) as a plain image file.

import { resolve } from 'node:path';
import { exportDisk } from '../ft/store.js';
import { StoreError } from '../ft/store-layer.js';
import { openControl, parseControlSpec, type VmRecord } from '../ft/control.js';
import { parseDiskArg } from '../ft/vm-host.js';
import { parseCount, parseArgs } from './args.js';
import { usageLine, UsageError } from './usage.js';
import { X86ftError } from '../errors.js';

/** Exit statuses of `x86ft ft export-disk`. */
export const EXPORT_DISK_EXIT = {
  OK: 0,
  /** The control plane, the store, a layer or the output could not be read or written (message on stderr). */
  IO_ERROR: 1,
  USAGE: 2,
  /** --generation G names a generation the VM never had. */
  NO_GENERATION: 3,
} as const;

const HELP = `usage: x86ft ft export-disk [NAME] --out FILE [--disk N] [--control SPEC] [--store PATH]
                          [--base FILE] [--generation G]

Writes the current content of disk N of FT VM NAME (default: default) — its base image with every
generation's layer over it — into FILE, a plain raw image (created or replaced; fsynced). The
base image and the store are taken from the VM's record in the control plane unless given.

  --out FILE         the image to write (never the base image itself)
  --disk N           which disk (virtio-blk order, default 0)
  --control SPEC     dir:PATH or etcd:HOST:PORT[,…] (default dir:$X86FT_CONTROL, else dir:~/.x86ft)
  --store PATH       the shared storage (default: the VM record's, else the dir: path)
  --base FILE        the base image (default: the VM record's --disk N)
  --generation G     the content as generation G left it (default: the newest)

exit status: ${EXPORT_DISK_EXIT.OK} written; ${EXPORT_DISK_EXIT.IO_ERROR} the control plane, store, a layer or FILE could not be read or written; ${EXPORT_DISK_EXIT.USAGE} usage;
${EXPORT_DISK_EXIT.NO_GENERATION} the VM never had generation G.
`;

export async function exportDiskCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(HELP); return EXPORT_DISK_EXIT.OK; }
  let vm = 'default', out: string | undefined, disk = 0, control: string | undefined, store: string | undefined, base: string | undefined;
  let generation: number | undefined;
  try {
    const named = parseArgs(argv, {
      values: ['--out', '--disk', '--control', '--store', '--base', '--generation'], maxPositionals: 1,
      on: (a, v) => {
        if (a === '--out') out = v as string;
        else if (a === '--disk') disk = parseCount(v as string, a);
        else if (a === '--control') control = v as string;
        else if (a === '--store') store = v as string;
        else if (a === '--base') base = v as string;
        else { generation = parseCount(v as string, a); if (generation < 1) throw new UsageError('--generation must be >= 1'); }
      },
    }).positionals[0];
    if (named !== undefined) vm = named;
    if (out === undefined) throw new UsageError('--out FILE is required');
    parseControlSpec(control);
  } catch (e) {
    process.stderr.write(usageLine('ft export-disk', (e as Error).message, HELP));
    return EXPORT_DISK_EXIT.USAGE;
  }
  try {
    let rec: VmRecord | undefined;
    if (base === undefined || store === undefined) {
      const cp = await openControl(control, { mustExist: true });
      try { rec = await cp.readVm(vm); } finally { await cp.close(); }
    }
    const spec = parseControlSpec(control);
    const where = store ?? rec?.config.store ?? (spec.kind === 'dir' ? spec.path : undefined);
    if (where === undefined) throw new X86ftError('X86FT_NOT_FOUND', `VM ${vm} has no record in the control plane: give --store PATH`);
    const arg = rec?.config.disks[disk];
    const from = base ?? (arg !== undefined ? parseDiskArg(arg).path : undefined);
    if (from === undefined) throw new X86ftError('X86FT_NOT_FOUND', rec ? `VM ${vm} has no disk ${disk} (it has ${rec.config.disks.length})` : `VM ${vm} has no record in the control plane: give --base FILE`);
    const size = exportDisk({ store: where, vm, disk, base: from, out: resolve(out), generation, lastGeneration: rec?.generation, firstGeneration: rec?.firstGeneration });
    process.stdout.write(`disk ${disk} of VM ${vm}: ${size} bytes written to ${out}\n`);
    return EXPORT_DISK_EXIT.OK;
  } catch (e) {
    // StoreError, ControlError, a missing record or disk: said plainly, never a stack trace
    process.stderr.write(`x86ft ft export-disk: ${(e as Error).message}\n`);
    return e instanceof StoreError && e.code === 'STORE_NO_GENERATION' ? EXPORT_DISK_EXIT.NO_GENERATION : EXPORT_DISK_EXIT.IO_ERROR;
  }
}
