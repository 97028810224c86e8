// `node --import ./test/helpers/hold-import.mjs PROGRAM`: holds the program's import of the module whose URL
// ends with $X86FT_HOLD_IMPORT (e.g. '/cli/run.js') until the file $X86FT_HOLD_UNTIL exists, after
// writing 'hold-import: holding URL' on stderr. A test uses it to signal a real x86ft process at a known
// moment: while its command's modules load.
import { register } from 'node:module';

register('./hold-import-hooks.mjs', import.meta.url, { data: { suffix: process.env.X86FT_HOLD_IMPORT, until: process.env.X86FT_HOLD_UNTIL } });
