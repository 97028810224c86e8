// Disk image backend: a raw image file read and written synchronously with node:fs.
// Only the LiveGate calls it (reads are logged as DMA data; writes are outputs).

import { closeSync, fstatSync, fsyncSync, openSync, readSync, statSync, writeSync, type Stats } from 'node:fs';
import type { DiskBackend } from '../../machine/gate.js';
import { HostResourceError, InvalidStateError, fsErrorText } from '../../errors.js';

export interface FileDiskOptions { readOnly?: boolean }

export class FileDisk implements DiskBackend {
  private fd: number;
  readonly size: number;
  readonly readOnly: boolean;

  private constructor(readonly path: string, fd: number, size: number, readOnly: boolean) {
    this.fd = fd; this.size = size; this.readOnly = readOnly;
  }

  /** Opens an existing image; throws an Error whose message names the file and the reason. */
  static open(path: string, opts: FileDiskOptions = {}): FileDisk {
    const ro = opts.readOnly ?? false;
    // checked before the open: opening a FIFO for reading blocks until a writer appears
    let kind: Stats | undefined;
    try { kind = statSync(path); } catch { /* the open below reports it */ }
    if (kind && !kind.isFile() && !kind.isBlockDevice()) throw new HostResourceError(`disk image ${path}: not a regular file or a block device`, path);
    let fd: number;
    try {
      fd = openSync(path, ro ? 'r' : 'r+');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'EROFS' ? 'the file system is read-only: open it read-only' : fsErrorText(e);
      throw new HostResourceError(`disk image ${path}: cannot open (${why})`, path);
    }
    const st = fstatSync(fd);
    if (!st.isFile() && !st.isBlockDevice()) { closeSync(fd); throw new HostResourceError(`disk image ${path}: not a regular file`, path); }
    return new FileDisk(path, fd, st.size, ro);
  }

  read(offset: number, len: number): Uint8Array {
    const buf = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, buf, done, len - done, offset + done);
      if (n === 0) break; // past the end of the file: zeros
      done += n;
    }
    return buf;
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new InvalidStateError(`disk image ${this.path}: read-only`);
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  flush(): void { fsyncSync(this.fd); }

  close(): void {
    if (this.fd >= 0) { closeSync(this.fd); this.fd = -1; }
  }
}
