/* x86ft SDK: the bare-metal port — COM1 output, debug-exit, boot-info access. */
#include "x86ft.h"

#define COM1 0x3F8
#define LSR_THRE 0x20

const struct x86ft_bootinfo *x86ft_bootinfo_ptr;   /* set by crt0 */

void x86ft_uart_putc(int c) {
  while (!(inb(COM1 + 5) & LSR_THRE)) {}
  outb(COM1, (uint8_t)c);
}

void x86ft_exit(int status) {
  outb(0xF4, (uint8_t)status);
  for (;;) { cli(); hlt(); }
}

const char *x86ft_cmdline(const struct x86ft_bootinfo *bi) {
  if (!bi) bi = x86ft_bootinfo_ptr;
  if (!bi || memcmp(bi->magic, "X86FTBI1", 8) != 0 || bi->cmdline == 0) return "";
  return (const char *)(uintptr_t)bi->cmdline;
}
