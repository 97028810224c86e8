// Imported first by every benchmark: an X86FT_* variable with a value it does not accept ends the run with
// one line and exit 2 before any module that reads one loads (src/env.ts, README "Environment").
import { checkEnv } from '../src/env.js';

const bad = checkEnv();
if (bad) {
  process.stderr.write(`${process.argv[1] ?? 'bench'}: ${bad}\n`);
  process.exit(2);
}
