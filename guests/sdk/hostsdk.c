/* x86ft SDK "hosted" port, for checking the SDK's libc on the build machine: a Linux
 * _start and raw syscalls stand in for the boot contract, COM1 and the debug-exit port.
 * A guest linked with this prints through the SDK's printf, so its output can be compared
 * with the native build (host libc) before any emulator exists. No IDT here. */
#include "x86ft.h"

static long sys3(long n, long a, long b, long c) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

static unsigned char obuf[4096];
static size_t olen;
static void flush_out(void) {
  size_t off = 0;
  while (off < olen) { long r = sys3(1, 1, (long)(obuf + off), (long)(olen - off)); if (r <= 0) break; off += (size_t)r; }
  olen = 0;
}

void x86ft_uart_putc(int c) {
  obuf[olen++] = (unsigned char)c;
  if (olen == sizeof obuf) flush_out();
}

void x86ft_exit(int status) {
  flush_out();
  for (;;) sys3(231, status & 0xff, 0, 0);   /* exit_group */
}

static char cmdline[1024];
static struct x86ft_bootinfo bootinfo = { "X86FTBI1", 1, 0, 0, 0, 0, 0 };
const struct x86ft_bootinfo *x86ft_bootinfo_ptr = &bootinfo;

const char *x86ft_cmdline(const struct x86ft_bootinfo *bi) {
  if (!bi) bi = &bootinfo;
  return bi->cmdline ? (const char *)(uintptr_t)bi->cmdline : "";
}

int main(const struct x86ft_bootinfo *bi);
void x86ft_hosted_start(long *sp);
void x86ft_hosted_start(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  size_t n = 0;
  for (int i = 1; i < argc; i++) {
    size_t l = strlen(argv[i]);
    if (n + l + 2 > sizeof cmdline) break;
    if (n) cmdline[n++] = ' ';
    memcpy(cmdline + n, argv[i], l);
    n += l;
  }
  bootinfo.cmdline = (uint64_t)(uintptr_t)cmdline;
  bootinfo.cmdline_len = (uint32_t)n;
  exit(main(&bootinfo));
}

__asm__(".text\n.globl _start\n_start:\n mov %rsp, %rdi\n and $-16, %rsp\n call x86ft_hosted_start\n hlt\n");
