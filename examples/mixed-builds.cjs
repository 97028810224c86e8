// One program that uses both builds: CommonJS code that require()s x86ft and also import()s it (the ES
// modules, and x86ft/ft, which is ES modules only). The two builds hold separate copies of every class,
// yet instanceof of the package's errors and of Machine holds across them (the dual-package hazard).
const cjs = require('x86ft');

async function main() {
  const esm = await import('x86ft');
  const ft = await import('x86ft/ft');
  console.log(`two copies: ${cjs.Machine !== esm.Machine}`);
  const m = esm.Machine.create({ memSize: 2 * 1024 * 1024 });
  console.log(`ES machine instanceof CommonJS Machine: ${m instanceof cjs.Machine}`);
  for (const [from, to] of [[esm, cjs], [cjs, esm]]) {
    try { from.Machine.create({ memSize: 1 }); } catch (e) {
      console.log(`${e.code}: ${e instanceof to.InvalidArgumentError} ${e instanceof to.X86ftError} ${e instanceof Error} ${e instanceof to.ElfError}`);
    }
  }
  try { await ft.openControl('nowhere:x'); } catch (e) {
    console.log(`x86ft/ft ${e.name} ${e.code}: instanceof the CommonJS X86ftError ${e instanceof cjs.X86ftError}`);
  }
}
main();
