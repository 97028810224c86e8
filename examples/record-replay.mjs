// Record a run and replay it, all in memory: the guest (dev_timer) takes timer interrupts whose timing
// comes from the host's clock, so two plain runs differ; a replay of the recording repeats the recorded
// run exactly. The replayer reads the log while the recorder writes it, through an in-memory pipe with
// back-pressure, as an FT secondary follows its primary.
import { Machine, LiveGate, SystemClock, SystemEntropy, Recorder, Replayer, memoryPipe } from 'x86ft';
import { readFileSync } from 'node:fs';

const image = readFileSync(new URL('../guests/build/dev_timer-O2.elf', import.meta.url));
const { sink, source } = memoryPipe();

// record: every value from the host crosses the live gate, which hands it to the recorder
const recorder = new Recorder({ sink, image, digestEvery: 100_000 });
const gate = new LiveGate({ clock: new SystemClock(), entropy: new SystemEntropy() }, { onRecord: recorder.onRecord });
let recorded = '';
const m = Machine.fromElf(image, { gate, consoleOut: (b) => { recorded += String.fromCharCode(b); } });
recorder.attach(m);

// replay: a second machine fed only from the log, concurrently
let replayed = '';
const replaying = new Replayer({ image, consoleOut: (b) => { replayed += String.fromCharCode(b); } }).replay(source);

const run = await recorder.run();
const report = await replaying;
// (dev_timer's own status says whether its timer checks held on this host: that may differ from run to run)
console.log(`recorded: end=${run.end}`);
console.log(`replayed: outcome=${report.outcome}, same status: ${report.run?.status === run.status}, same instruction count: ${report.instructions === run.instructions}, digests checked: ${report.digestsChecked > 0}`);
console.log(`same console output: ${replayed === recorded && recorded.length > 0}`);
process.exitCode = report.outcome === 'identical' ? 0 : 1;
