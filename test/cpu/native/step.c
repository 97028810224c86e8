// Host-CPU oracle for the trap flag (test/cpu/debug.test.ts): runs instruction bytes at 0x680000 in Linux user
// mode with TF set by the bytes themselves (PUSHF/POPF) and records the RIP of every single-step trap (SIGTRAP,
// the kernel's #DB), relative to 0x680000, until the bytes end. Test-only; written for this project.
//
// stdin, one case per line: <hex instruction bytes>
// stdout, one line per case: <number of traps> {<hex offset>}*   (at most 256 traps)
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define CODE ((uint8_t *)0x680000)
#define DATA ((uint8_t *)0x700000)
static uint64_t traps[256];
static volatile int ntraps;

static void on_trap(int s, siginfo_t *si, void *ucv) {
  (void)s; (void)si;
  ucontext_t *uc = ucv;
  if (ntraps < 256) traps[ntraps] = (uint64_t)uc->uc_mcontext.gregs[REG_RIP] - (uint64_t)CODE;
  ntraps++;
}

int main(void) {
  uint8_t *code = mmap(CODE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  uint8_t *data = mmap(DATA, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != CODE || data != DATA) { fprintf(stderr, "mmap failed\n"); return 2; }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_trap;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGTRAP, &sa, NULL);
  static char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    int n = 0;
    for (size_t k = 0; line[k] && line[k] != '\n' && line[k + 1]; k += 2) { unsigned b; sscanf(line + k, "%2x", &b); code[n++] = (uint8_t)b; }
    code[n++] = 0xc3; // ret
    memset(data, 0, 4096);
    ntraps = 0;
    // the case runs with the callee-saved registers it may clobber saved around it
    __asm__ volatile("push %%rbx; push %%rbp; push %%r12; push %%r13; push %%r14; push %%r15\n"
                     "call *%0\n"
                     "pop %%r15; pop %%r14; pop %%r13; pop %%r12; pop %%rbp; pop %%rbx\n"
                     : : "a"(code) : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
    printf("%d", ntraps);
    for (int k = 0; k < ntraps && k < 256; k++) printf(" %lx", (unsigned long)traps[k]);
    printf("\n");
  }
  return 0;
}
