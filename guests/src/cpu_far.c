/* cpu_far: far CALL/JMP through memory (FF /3, FF /5: m16:32, m16:64 with REX.W) and far RET (CB, CA iw) in
 * 64-bit mode, judged against the Intel SDM (Vol. 2A CALL/JMP, Vol. 2B RET pseudo-code): the slots pushed and
 * popped, RET imm16 on the same and on the outer stack, a return to CPL 3 (SS:RSP popped, DS/ES nulled when
 * their DPL < 3), a conforming code segment, and each fault: #GP(selector), #GP(0), #NP(selector),
 * #SS(selector), with RSP unchanged. Emulator only (it runs at CPL 0 with its own GDT); prints "ok NAME" per
 * check or "FAIL NAME ...", exits with the number of failures. */
#include "x86ft.h"

/* GDT: selectors as used below */
enum {
  K_CS = 0x08, K_DS = 0x10, U_CS32 = 0x18, U_DS = 0x20, U_CS = 0x28, CS_NP = 0x30, CS_CONF0 = 0x38, CS_LD = 0x40,
  DS_NP3 = 0x48, DS_RO3 = 0x50, TSS_SEL = 0x58, CS_CONF3 = 0x68,
};
static uint64_t gdt[16] __attribute__((aligned(16))) = {
  0,
  0x00af9a000000ffffull, /* 0x08 code64 DPL0 */
  0x00cf92000000ffffull, /* 0x10 data DPL0 */
  0x00cffa000000ffffull, /* 0x18 code32 DPL3 (compatibility mode) */
  0x00cff2000000ffffull, /* 0x20 data DPL3 */
  0x00affa000000ffffull, /* 0x28 code64 DPL3 */
  0x00af1a000000ffffull, /* 0x30 code64 DPL0, not present */
  0x00af9e000000ffffull, /* 0x38 conforming code64 DPL0 */
  0x00ef9a000000ffffull, /* 0x40 code with L = 1 and D = 1 (invalid) */
  0x00cf72000000ffffull, /* 0x48 data DPL3, not present */
  0x00cff0000000ffffull, /* 0x50 read-only data DPL3 */
  0, 0,                  /* 0x58 the TSS (16 bytes, filled in by main) */
  0x00affe000000ffffull, /* 0x68 conforming code64 DPL3 */
  0, 0,
};

static int failures;
static void check(const char *name, uint64_t got, uint64_t want) {
  if (got == want) printf("ok %s\n", name);
  else { printf("FAIL %s: got %#lx want %#lx\n", name, (unsigned long)got, (unsigned long)want); failures++; }
}

/* ---- faults: the handler records vector, error code and the frame's RSP, and resumes at `resume` (CPL 0) */
static volatile uint64_t f_vec, f_err, f_rsp;
uint64_t pre_rsp, k_rsp; /* RSP just before the faulting instruction; the kernel RSP to come back to */
extern char resume[];
static void on_fault(struct x86ft_frame *f) {
  f_vec = f->vector; f_err = f->error_code; f_rsp = f->rsp;
  f->rip = (uint64_t)resume; f->cs = K_CS; f->ss = K_DS; f->rsp = k_rsp;
}

/* Runs `code` (asm that stores RSP in pre_rsp and executes one far transfer) expecting a fault; returns
 * vector << 32 | error code, and checks that the faulting instruction left RSP as it was. */
static uint64_t faulting(void (*code)(void)) {
  f_vec = ~0ull;
  __asm__ volatile(
    "push %%rbx; push %%rbp; push %%r12; push %%r13; push %%r14; push %%r15\n"
    "mov %%rsp, k_rsp(%%rip)\n"
    "call *%0\n"
    ".globl resume\nresume:\n"
    "pop %%r15; pop %%r14; pop %%r13; pop %%r12; pop %%rbp; pop %%rbx\n"
    : : "a"(code) : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
  check("  RSP unchanged at the fault", f_vec == ~0ull ? 1 : f_rsp, pre_rsp);
  return f_vec << 32 | f_err;
}

/* far pointer buffer: m16:32 at ptr32, m16:64 at ptr64 */
static struct __attribute__((packed)) { uint32_t off; uint16_t sel; } ptr32;
static struct __attribute__((packed)) { uint64_t off; uint16_t sel; uint16_t pad; } ptr64;
static volatile uint64_t got_a, got_b, got_c;

/* -------- same-privilege transfers */
extern char far_target32[], far_target64[], jmp_target[], conf_target[];
__asm__(
  ".text\n"
  "far_target32: mov (%rsp), %rax; mov %rax, got_a(%rip); lretl\n"     /* EIP and CS as two 32-bit slots */
  "far_target64: mov (%rsp), %rax; mov %rax, got_a(%rip); mov 8(%rsp), %rax; mov %rax, got_b(%rip); lretq\n"
  "jmp_target: movq $1, got_c(%rip); ret\n"                           /* ljmp'd to from inside a call: near ret */
  "conf_target: mov %cs, %eax; mov %rax, got_c(%rip); ret\n");

static void test_same_privilege(void) {
  uint64_t rsp0, rsp1;
  ptr32.off = (uint32_t)(uint64_t)far_target32; ptr32.sel = K_CS;
  __asm__ volatile("mov %%rsp, %0; lcall *%2; mov %%rsp, %1" : "=&r"(rsp0), "=&r"(rsp1) : "m"(ptr32) : "rax", "memory");
  __asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, %0; lcall *%1; 1:" : "=m"(got_b) : "m"(ptr32) : "rax", "memory");
  check("lcall m16:32 pushes CS:EIP as 32-bit slots", got_a >> 32, K_CS);
  check("lcall m16:32 return EIP slot", got_a & 0xffffffff, got_b & 0xffffffff);
  check("lcall/lretl m16:32 balance the stack", rsp1, rsp0);

  ptr64.off = (uint64_t)far_target64; ptr64.sel = K_CS; ptr64.pad = 0;
  /* (read as m16:32, as AMD CPUs do, the selector would be bits 47:32 of the offset: 0, a #GP(0)) */
  __asm__ volatile("mov %%rsp, %0; rex.W lcall *%2; mov %%rsp, %1" : "=&r"(rsp0), "=&r"(rsp1) : "m"(ptr64) : "rax", "memory");
  check("rex.W lcall m16:64 pushes CS as a 64-bit slot", got_b, K_CS);
  check("rex.W lcall/lretq balance the stack", rsp1, rsp0);

  ptr64.off = (uint64_t)jmp_target; got_c = 0;
  __asm__ volatile("lea 1f(%%rip), %%rax; push %%rax; rex.W ljmp *%0; 1:" : : "m"(ptr64) : "rax", "memory");
  check("rex.W ljmp m16:64", got_c, 1);

  /* lretq $16: RIP, CS, then 16 bytes released */
  __asm__ volatile("mov %%rsp, %0; lea 1f(%%rip), %%rax; sub $16, %%rsp; pushq $0x08; push %%rax; lretq $16; 1: mov %%rsp, %1"
                   : "=&r"(rsp0), "=&r"(rsp1) : : "rax", "memory");
  check("lretq $16 at the same privilege", rsp1, rsp0);
  /* RPL of the returned-to selector is kept; CS after a same-level return */
  uint64_t cs;
  __asm__ volatile("lea 1f(%%rip), %%rax; pushq $0x08; push %%rax; lretq; 1: mov %%cs, %%eax" : "=a"(cs) : : "memory");
  check("lretq loads CS", cs, K_CS);

  /* conforming DPL 0 code entered from CPL 0: CS.RPL = CPL */
  ptr32.off = (uint32_t)(uint64_t)conf_target; ptr32.sel = CS_CONF0; got_c = 0;
  __asm__ volatile("lea 1f(%%rip), %%rax; push %%rax; ljmp *%0\n"
                   "1: lea 2f(%%rip), %%rax; mov %%eax, %0; movw $8, 4+%0; ljmp *%0\n2:" : "+m"(ptr32) : : "rax", "memory");
  check("ljmp to conforming code (DPL 0) sets CS = selector | CPL", got_c, CS_CONF0);
}

/* -------- return to CPL 3 and back through a DPL 3 gate (vector 0x81) */
static uint8_t ustack[4096] __attribute__((aligned(16)));
static volatile uint64_t u_cs, u_ss, u_rsp, u_ds, u_es, u_rip;
extern char user_code[], user_back[];
__asm__(
  ".text\nuser_code: mov %ds, %eax; mov %es, %ecx; int $0x81\n ud2\n");
static void on_user_int(struct x86ft_frame *f) {
  u_cs = f->cs; u_ss = f->ss; u_rsp = f->rsp; u_ds = f->rax & 0xffff; u_es = f->rcx & 0xffff; u_rip = f->rip;
  f->rip = (uint64_t)user_back; f->cs = K_CS; f->ss = K_DS; f->rsp = k_rsp;  /* back to the kernel caller */
}

static void to_user(int width, int imm16) {
  uint64_t top = (uint64_t)(ustack + sizeof ustack);
  __asm__ volatile("mov %%ds, %%eax; push %%rax; mov %%es, %%eax; push %%rax\n"
                   "mov %%rsp, k_rsp(%%rip)\n"
                   "cmp $8, %[w]; jne 4f\n"
                   "cmp $0, %[i]; jne 3f\n"
                   "pushq %[ss]; push %[top]; pushq %[cs]; push %[ip]; lretq\n"
                   "3: pushq %[ss]; push %[top]; sub $16, %%rsp; pushq %[cs]; push %[ip]; lretq $16\n"
                   "4: sub $8, %%rsp; movl %[ss], 4(%%rsp); movl %k[top], (%%rsp); sub $8, %%rsp; movl %[cs], 4(%%rsp); movl %k[ip], (%%rsp); lretl\n"
                   ".globl user_back\nuser_back: pop %%rax; mov %%eax, %%es; pop %%rax; mov %%eax, %%ds\n"
                   : : [w] "r"((uint64_t)width), [i] "r"((uint64_t)imm16), [ss] "i"(U_DS | 3), [cs] "i"(U_CS | 3),
                       [top] "r"(top), [ip] "r"((uint64_t)user_code)
                   : "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

static void test_outer(void) {
  idt_set_handler(0x81, on_user_int);
  idt_set_gate(0x81, idt_stub(0x81), K_CS, 0xE, 3, 0);
  uint64_t top = (uint64_t)(ustack + sizeof ustack);
  __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(K_DS) : "memory");
  to_user(8, 0);
  check("lretq to CPL 3: CS", u_cs, U_CS | 3);
  check("lretq to CPL 3: SS", u_ss, U_DS | 3);
  check("lretq to CPL 3: RSP popped", u_rsp, top);
  check("lretq to CPL 3: RIP", u_rip, (uint64_t)user_code + 6); /* after mov, mov, int $0x81 */
  check("lretq to CPL 3 nulls DS (DPL 0 < CPL 3)", u_ds, 0);
  check("lretq to CPL 3 nulls ES", u_es, 0);
  __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(U_DS | 3) : "memory");
  to_user(8, 16);
  check("lretq $16 to CPL 3 releases 16 bytes on the new stack too", u_rsp, top + 16);
  check("DS with DPL 3 kept", u_ds, U_DS | 3);
  __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(K_DS) : "memory");
  to_user(4, 0);
  check("lretl to CPL 3: 32-bit slots", u_cs << 32 | u_rsp, (uint64_t)(U_CS | 3) << 32 | top);
  __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(K_DS) : "memory");
}

/* -------- faults: each case is asm that sets pre_rsp right before the far transfer */
#define RETQ_CASE(name, cs_, ss_, rip_)                                                                  \
  extern char name[];                                                                                    \
  __asm__(".text\n" #name ": pushq $" #ss_ "\n pushq $0x7000\n pushq $" #cs_ "\n movabs $" #rip_ ", %rax\n" \
          " push %rax\n mov %rsp, pre_rsp(%rip)\n lretq\n ud2\n");
RETQ_CASE(r_null, 0, 0, 0x100000)
RETQ_CASE(r_data, 0x10, 0, 0x100000)
RETQ_CASE(r_np, 0x30, 0, 0x100000)
RETQ_CASE(r_ld, 0x40, 0, 0x100000)
RETQ_CASE(r_rpl3_dpl0, 0x0b, 0, 0x100000)
RETQ_CASE(r_conf3, 0x68, 0, 0x100000)
RETQ_CASE(r_limit, 0x80, 0, 0x100000)
RETQ_CASE(r_ldt, 0x0c, 0, 0x100000)
RETQ_CASE(r_noncanon, 0x08, 0, 0x800000000000)
RETQ_CASE(o_ss_null, 0x2b, 0, 0x100000)
RETQ_CASE(o_ss_rpl, 0x2b, 0x20, 0x100000)
RETQ_CASE(o_ss_dpl, 0x2b, 0x13, 0x100000)
RETQ_CASE(o_ss_ro, 0x2b, 0x53, 0x100000)
RETQ_CASE(o_ss_code, 0x2b, 0x2b, 0x100000)
RETQ_CASE(o_ss_np, 0x2b, 0x4b, 0x100000)
RETQ_CASE(o_noncanon, 0x2b, 0x23, 0x800000000000)
extern char do_ljmp32[], do_lcall32[], do_ljmp64[], do_lcall64[];
__asm__(".text\n"
        "do_ljmp32: mov %rsp, pre_rsp(%rip); ljmp *ptr32(%rip); ud2\n"
        "do_lcall32: mov %rsp, pre_rsp(%rip); lcall *ptr32(%rip); ud2\n"
        "do_ljmp64: mov %rsp, pre_rsp(%rip); rex.W ljmp *ptr64(%rip); ud2\n"
        "do_lcall64: mov %rsp, pre_rsp(%rip); rex.W lcall *ptr64(%rip); ud2\n");
static uint64_t j_sel(uint16_t sel) { ptr32.off = 0x100000; ptr32.sel = sel; return faulting((void (*)(void))do_ljmp32); }
static uint64_t c_sel(uint16_t sel) { ptr32.off = 0x100000; ptr32.sel = sel; return faulting((void (*)(void))do_lcall32); }
static uint64_t j64(uint64_t off) { ptr64.off = off; ptr64.sel = K_CS; ptr64.pad = 0; return faulting((void (*)(void))do_ljmp64); }
static uint64_t c64(uint64_t off) { ptr64.off = off; ptr64.sel = K_CS; ptr64.pad = 0; return faulting((void (*)(void))do_lcall64); }
#define F(x) ((void (*)(void))(x))

#define GP(s) ((uint64_t)13 << 32 | (s))
#define NP(s) ((uint64_t)11 << 32 | (s))
#define SS(s) ((uint64_t)12 << 32 | (s))

static void test_faults(void) {
  static const struct { const char *name; char *fn; uint64_t want; } t[] = {
    {"lretq to a null selector: #GP(0)", r_null, GP(0)},
    {"lretq to a data segment: #GP(sel)", r_data, GP(K_DS)},
    {"lretq to a not-present code segment: #NP(sel)", r_np, NP(CS_NP)},
    {"lretq to L=1 D=1 code: #GP(sel)", r_ld, GP(CS_LD)},
    {"lretq to RPL 3, DPL 0 non-conforming: #GP(sel)", r_rpl3_dpl0, GP(K_CS)},
    {"lretq to conforming DPL 3 with RPL 0: #GP(sel)", r_conf3, GP(CS_CONF3)},
    {"lretq beyond the GDT limit: #GP(sel)", r_limit, GP(0x80)},
    {"lretq to an LDT selector: #GP(sel)", r_ldt, GP(0x0c)},
    {"lretq to a non-canonical RIP: #GP(0)", r_noncanon, GP(0)},
    {"lretq to CPL 3 with a null SS: #GP(0)", o_ss_null, GP(0)},
    {"lretq to CPL 3, SS.RPL != 3: #GP(ss)", o_ss_rpl, GP(U_DS)},
    {"lretq to CPL 3, SS.DPL != 3: #GP(ss)", o_ss_dpl, GP(K_DS)},
    {"lretq to CPL 3, read-only SS: #GP(ss)", o_ss_ro, GP(DS_RO3)},
    {"lretq to CPL 3, code segment as SS: #GP(ss)", o_ss_code, GP(U_CS)},
    {"lretq to CPL 3, SS not present: #SS(ss)", o_ss_np, SS(DS_NP3)},
    {"lretq to CPL 3, non-canonical RIP: #GP(0)", o_noncanon, GP(0)},
  };
  for (unsigned k = 0; k < sizeof t / sizeof t[0]; k++) check(t[k].name, faulting(F(t[k].fn)), t[k].want);
  check("ljmp to a null selector: #GP(0)", j_sel(0), GP(0));
  check("ljmp to a data segment: #GP(sel)", j_sel(K_DS), GP(K_DS));
  check("ljmp to a not-present code segment: #NP(sel)", j_sel(CS_NP), NP(CS_NP));
  check("ljmp to L=1 D=1 code: #GP(sel)", j_sel(CS_LD), GP(CS_LD));
  check("ljmp to DPL 3 code from CPL 0: #GP(sel)", j_sel(U_CS | 3), GP(U_CS));
  check("ljmp with RPL 3 > CPL 0: #GP(sel)", j_sel(K_CS | 3), GP(K_CS));
  check("ljmp to conforming DPL 3 > CPL 0: #GP(sel)", j_sel(CS_CONF3), GP(CS_CONF3));
  check("ljmp to the TSS: #GP(sel)", j_sel(TSS_SEL), GP(TSS_SEL));
  check("lcall to a not-present code segment: #NP(sel)", c_sel(CS_NP), NP(CS_NP));
  check("lcall to DPL 3 code from CPL 0: #GP(sel)", c_sel(U_CS), GP(U_CS));
  check("lcall beyond the GDT limit: #GP(sel)", c_sel(0x80), GP(0x80));
  check("rex.W ljmp to a non-canonical offset: #GP(0)", j64(0x800000000000ull), GP(0));
  check("rex.W lcall to a non-canonical offset: #GP(0)", c64(0xffff7fffffffffffull), GP(0));
}

static uint8_t kstack[4096] __attribute__((aligned(16)));
static uint32_t tss[26] __attribute__((aligned(16))); /* 64-bit TSS: RSP0 at offset 4 */

int main(void) {
  uint64_t t = (uint64_t)tss, k = (uint64_t)(kstack + sizeof kstack);
  tss[1] = (uint32_t)k; tss[2] = (uint32_t)(k >> 32);
  gdt[11] = 0x67 | (t & 0xffffff) << 16 | 0x89ull << 40 | (t >> 24 & 0xff) << 56;
  gdt[12] = t >> 32;
  struct { uint16_t limit; uint64_t base; } __attribute__((packed)) d = { sizeof gdt - 1, (uint64_t)gdt };
  __asm__ volatile("lgdt %0" : : "m"(d) : "memory");
  __asm__ volatile("ltr %w0" : : "r"(TSS_SEL) : "memory");
  idt_set_handler(X86FT_GP, on_fault);
  idt_set_handler(X86FT_NP, on_fault);
  idt_set_handler(X86FT_SS, on_fault);
  test_same_privilege();
  test_outer();
  test_faults();
  printf("cpu_far: %d failures\n", failures);
  x86ft_exit(failures);
}
