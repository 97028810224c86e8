// Stream transport: a ByteSource over any Node Readable (stdin, a FIFO's pipe handle). Knows bytes
// only; the stream's end is the source's end.

import type { Readable } from 'node:stream';
import { toChannelError, type ByteSource } from './channel.js';

/** Reads `stream` as a byte stream; `name` appears in error messages. Rejects with ChannelError. */
export function streamSource(stream: Readable, name: string): ByteSource {
  let closed = false;
  let started = false;
  return {
    close() {
      closed = true;
      stream.destroy();
    },
    [Symbol.asyncIterator]() {
      if (started) throw toChannelError(new Error('source iterated twice'), name);
      started = true;
      const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          try {
            const r = await it.next();
            if (r.done || closed) return { done: true, value: undefined };
            const v = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
            return { done: false, value: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) };
          } catch (e) {
            if (closed) return { done: true, value: undefined };
            throw toChannelError(e, `read ${name}`);
          }
        },
        async return(): Promise<IteratorResult<Uint8Array>> {
          closed = true;
          stream.destroy();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
