// Public surface of the record/replay lower layers (format, codec, channels,
// writer/reader, snapshots). Recorder, replayer and FT build on these.

export * from './format.js';
export * from './codec.js';
export { crc32, crc32Update } from './crc32.js';
export * from './channel.js';
export * from './channel-file.js';
export * from './channel-tcp.js';
export * from './channel-tls.js';
export * from './writer.js';
export * from './reader.js';
export * from './snapshot.js';
