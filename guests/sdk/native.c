/* x86ft SDK native shim: the host-side main() that calls the guest's main (renamed
 * x86ft_guest_main by x86ft.h) with a boot-info block whose command line is argv[1..]. */
#include "x86ft.h"

static char cmdline[1024];
static struct x86ft_bootinfo bootinfo = { "X86FTBI1", 1, 0, 0, 0, 0, 0 };

const char *x86ft_cmdline(const struct x86ft_bootinfo *bi) {
  if (!bi) bi = &bootinfo;
  return bi->cmdline ? (const char *)(uintptr_t)bi->cmdline : "";
}

#undef main
int main(int argc, char **argv) {
  size_t n = 0;
  for (int i = 1; i < argc; i++) {
    size_t l = strlen(argv[i]);
    if (n + l + 2 > sizeof cmdline) break;
    if (n) cmdline[n++] = ' ';
    memcpy(cmdline + n, argv[i], l);
    n += l;
  }
  cmdline[n] = 0;
  bootinfo.cmdline = (uint64_t)(uintptr_t)cmdline;
  bootinfo.cmdline_len = (uint32_t)n;
  return x86ft_guest_main(&bootinfo);
}
