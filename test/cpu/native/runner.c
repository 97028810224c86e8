// Host-CPU oracle for the integer instruction tests (test/cpu): runs raw instruction bytes on this machine's
// CPU with given GPRs (except RSP) and RFLAGS, and prints the resulting GPRs, RFLAGS, the fault signal and the
// bytes changed in a 4 KiB data buffer mapped at a fixed address (0x700000), so memory operands use the same
// addresses as in the emulator. Test-only; written for this project.
//
// stdin, one case per line:  <hex instruction bytes> <16 x hex64 regs> <hex rflags> <hex seed> [<prot>]
//   prot: 0 (default) the data page is read-write, 1 read-only (mprotect PROT_READ), 2 inaccessible (PROT_NONE)
// stdout, one line per case: <16 x hex64 regs> <hex rflags> <fault: -1 or vector> <n> {<hex off> <hex byte>}*n <hex error code>
// At a fault the registers and RFLAGS are those of the signal context (the state the CPU left), the vector
// and the error code its trap number and error code.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#define DATA ((uint8_t *)0x700000)
#define CODE ((uint8_t *)0x680000)
#define DATA_SIZE 4096

uint64_t st[17];           // regs 0..15 (RSP slot unused), [16] = rflags
void *code_ptr, *state_ptr;
uint64_t saved_rsp, tmp_rdi;
extern void run_insn(void);

__asm__(
  ".text\n.globl run_insn\nrun_insn:\n"
  "push %rbx\npush %rbp\npush %r12\npush %r13\npush %r14\npush %r15\n"
  "mov %rsp, saved_rsp(%rip)\n"
  "lea st(%rip), %rdi\n"
  "pushq 128(%rdi)\npopfq\n"
  "mov 0(%rdi),%rax\nmov 8(%rdi),%rcx\nmov 16(%rdi),%rdx\nmov 24(%rdi),%rbx\n"
  "mov 40(%rdi),%rbp\nmov 48(%rdi),%rsi\nmov 64(%rdi),%r8\nmov 72(%rdi),%r9\n"
  "mov 80(%rdi),%r10\nmov 88(%rdi),%r11\nmov 96(%rdi),%r12\nmov 104(%rdi),%r13\n"
  "mov 112(%rdi),%r14\nmov 120(%rdi),%r15\nmov 56(%rdi),%rdi\n"
  "jmp *code_ptr(%rip)\n"
  ".globl run_back\nrun_back:\n"
  "pushfq\n"
  "mov %rdi, tmp_rdi(%rip)\n"
  "lea st(%rip), %rdi\n"
  "popq 128(%rdi)\n"
  "mov %rax,0(%rdi)\nmov %rcx,8(%rdi)\nmov %rdx,16(%rdi)\nmov %rbx,24(%rdi)\n"
  "mov %rbp,40(%rdi)\nmov %rsi,48(%rdi)\nmov %r8,64(%rdi)\nmov %r9,72(%rdi)\n"
  "mov %r10,80(%rdi)\nmov %r11,88(%rdi)\nmov %r12,96(%rdi)\nmov %r13,104(%rdi)\n"
  "mov %r14,112(%rdi)\nmov %r15,120(%rdi)\nmov tmp_rdi(%rip),%rax\nmov %rax,56(%rdi)\n"
  "mov saved_rsp(%rip), %rsp\n"
  "cld\n"
  "pop %r15\npop %r14\npop %r13\npop %r12\npop %rbp\npop %rbx\nret\n");
extern char run_back[];

static sigjmp_buf jb;
static volatile int fault_sig;
static volatile long fault_trap, fault_err;
static const int GREG[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
static void on_sig(int s, siginfo_t *si, void *ucv) {
  (void)si;
  ucontext_t *uc = ucv;
  fault_sig = s;
  fault_trap = (long)uc->uc_mcontext.gregs[REG_TRAPNO];
  fault_err = (long)uc->uc_mcontext.gregs[REG_ERR];
  for (int r = 0; r < 16; r++) if (r != 4) st[r] = (uint64_t)uc->uc_mcontext.gregs[GREG[r]];
  st[16] = (uint64_t)uc->uc_mcontext.gregs[REG_EFL];
  siglongjmp(jb, 1);
}

static uint32_t xs;
static uint32_t rnd(void) { xs ^= xs << 13; xs ^= xs >> 17; xs ^= xs << 5; return xs; }
static void fill(uint8_t *p, uint32_t seed) {
  xs = seed ? seed : 1;
  for (int k = 0; k < DATA_SIZE; k++) p[k] = (uint8_t)rnd();
}

int main(void) {
  // code at a fixed address below 4 GiB (CODE), so a case may use its own addresses as 32-bit offsets (far
  // pointers m16:32) and the emulator can load it at the same address
  uint8_t *code = mmap(CODE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  uint8_t *data = mmap(DATA, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != CODE || data != DATA) { fprintf(stderr, "mmap failed\n"); return 2; }
  static uint8_t init[DATA_SIZE];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sig;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  static char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    char *p = line, *e;
    char *hex = strtok_r(p, " \n", &e);
    if (!hex) continue;
    int n = 0;
    for (size_t k = 0; hex[k] && hex[k + 1]; k += 2) { unsigned b; sscanf(hex + k, "%2x", &b); code[n++] = (uint8_t)b; }
    // jmp *0(%rip); .quad run_back
    code[n++] = 0xff; code[n++] = 0x25; code[n++] = 0; code[n++] = 0; code[n++] = 0; code[n++] = 0;
    uint64_t back = (uint64_t)run_back;
    memcpy(code + n, &back, 8);
    for (int r = 0; r < 17; r++) st[r] = strtoull(strtok_r(NULL, " \n", &e), NULL, 16);
    uint32_t seed = (uint32_t)strtoul(strtok_r(NULL, " \n", &e), NULL, 16);
    char *pt = strtok_r(NULL, " \n", &e);
    int prot = pt ? atoi(pt) : 0;
    fill(init, seed);
    memcpy(data, init, DATA_SIZE);
    if (prot) mprotect(data, DATA_SIZE, prot == 1 ? PROT_READ : PROT_NONE);
    st[16] = (st[16] & 0xcd5) | 2;  // arithmetic flags and DF only
    code_ptr = code;
    fault_sig = 0;
    int vec = -1;
    long err = 0;
    if (sigsetjmp(jb, 1) == 0) {
      run_insn();
    } else {
      __asm__ volatile("cld");
      vec = (int)fault_trap;
      err = fault_err;
    }
    if (prot) mprotect(data, DATA_SIZE, PROT_READ | PROT_WRITE);
    for (int r = 0; r < 17; r++) printf("%llx ", (unsigned long long)(r == 16 ? (st[16] & 0xcd5) : st[r]));
    printf("%d", vec);
    int nd = 0;
    for (int k = 0; k < DATA_SIZE; k++) nd += data[k] != init[k];
    printf(" %d", nd);
    for (int k = 0; k < DATA_SIZE; k++) if (data[k] != init[k]) printf(" %x %x", k, data[k]);
    printf(" %lx\n", err);
  }
  return 0;
}
