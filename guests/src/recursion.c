/* recursion: deep and branchy recursion (Ackermann, n-queens, Fibonacci, Hanoi, mutual
 * recursion, a recursive-descent expression parser), function-pointer dispatch tables,
 * dense switch statements that gcc turns into jump tables, and varargs. */
#include "x86ft.h"

static unsigned long calls;

static unsigned long ack(unsigned long m, unsigned long n) {
  calls++;
  if (m == 0) return n + 1;
  if (n == 0) return ack(m - 1, 1);
  return ack(m - 1, ack(m, n - 1));
}

static int queens(int n, int row, unsigned cols, unsigned d1, unsigned d2) {
  if (row == n) return 1;
  int count = 0;
  for (unsigned avail = ~(cols | d1 | d2) & ((1u << n) - 1); avail; avail &= avail - 1) {
    unsigned bit = avail & -avail;
    count += queens(n, row + 1, cols | bit, (d1 | bit) << 1, (d2 | bit) >> 1);
  }
  return count;
}

static uint64_t fib(int n) { return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2); }

static unsigned long moves;
static uint32_t hanoi_sig;
static void hanoi(int n, int from, int to, int via) {
  if (n == 0) return;
  hanoi(n - 1, from, via, to);
  moves++;
  hanoi_sig = hanoi_sig * 7 + (uint32_t)(from * 3 + to);
  hanoi(n - 1, via, to, from);
}

static int is_odd(unsigned n);
static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

/* recursive-descent parser for + - * / % ( ) and unary minus over 64-bit integers */
static const char *pp;
static int64_t expr(void);
static void skip(void) { while (*pp == ' ') pp++; }
static int64_t primary(void) {
  skip();
  if (*pp == '(') { pp++; int64_t v = expr(); skip(); if (*pp == ')') pp++; return v; }
  if (*pp == '-') { pp++; return -primary(); }
  int64_t v = 0;
  while (*pp >= '0' && *pp <= '9') v = v * 10 + (*pp++ - '0');
  return v;
}
static int64_t term(void) {
  int64_t v = primary();
  for (;;) {
    skip();
    char op = *pp;
    if (op != '*' && op != '/' && op != '%') return v;
    pp++;
    int64_t r = primary();
    if (op == '*') v *= r;
    else if (r == 0) v = 0;
    else if (op == '/') v /= r;
    else v %= r;
  }
}
static int64_t expr(void) {
  int64_t v = term();
  for (;;) {
    skip();
    if (*pp == '+') { pp++; v += term(); }
    else if (*pp == '-') { pp++; v -= term(); }
    else return v;
  }
}

/* dispatch table */
typedef int64_t (*binop)(int64_t, int64_t);
static int64_t op_add(int64_t a, int64_t b) { return a + b; }
static int64_t op_sub(int64_t a, int64_t b) { return a - b; }
static int64_t op_mul(int64_t a, int64_t b) { return a * b; }
static int64_t op_xor(int64_t a, int64_t b) { return a ^ b; }
static int64_t op_shl(int64_t a, int64_t b) { return (int64_t)((uint64_t)a << (b & 63)); }
static int64_t op_max(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t op_min(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t op_avg(int64_t a, int64_t b) { return (a & b) + ((a ^ b) >> 1); }
static const binop table[8] = { op_add, op_sub, op_mul, op_xor, op_shl, op_max, op_min, op_avg };

/* a small bytecode interpreter: a dense switch (jump table) */
enum { PUSH, ADD, SUB, MUL, DUP, SWAP, DROP, JNZ, DEC, OVER, NEG, AND, OR, SHL, SHR, HALT };
static int64_t run_vm(const int64_t *code) {
  int64_t st[64];
  int sp = 0, pc = 0;
  for (;;) {
    int64_t a, b;
    switch (code[pc++]) {
      case PUSH: st[sp++] = code[pc++]; break;
      case ADD: b = st[--sp]; a = st[--sp]; st[sp++] = a + b; break;
      case SUB: b = st[--sp]; a = st[--sp]; st[sp++] = a - b; break;
      case MUL: b = st[--sp]; a = st[--sp]; st[sp++] = a * b; break;
      case DUP: st[sp] = st[sp - 1]; sp++; break;
      case SWAP: a = st[sp - 1]; st[sp - 1] = st[sp - 2]; st[sp - 2] = a; break;
      case DROP: sp--; break;
      case JNZ: a = code[pc++]; if (st[--sp]) pc = (int)a; break;
      case DEC: st[sp - 1]--; break;
      case OVER: st[sp] = st[sp - 2]; sp++; break;
      case NEG: st[sp - 1] = -st[sp - 1]; break;
      case AND: b = st[--sp]; a = st[--sp]; st[sp++] = a & b; break;
      case OR: b = st[--sp]; a = st[--sp]; st[sp++] = a | b; break;
      case SHL: b = st[--sp]; a = st[--sp]; st[sp++] = (int64_t)((uint64_t)a << (b & 63)); break;
      case SHR: b = st[--sp]; a = st[--sp]; st[sp++] = (int64_t)((uint64_t)a >> (b & 63)); break;
      case HALT: return sp ? st[sp - 1] : 0;
      default: return -1;
    }
  }
}

static const char *day_name(int d) {
  switch (d) {
    case 0: return "sun"; case 1: return "mon"; case 2: return "tue"; case 3: return "wed";
    case 4: return "thu"; case 5: return "fri"; case 6: return "sat"; case 7: return "sun7";
    case 8: return "eight"; case 9: return "nine"; case 10: return "ten"; case 11: return "eleven";
    default: return "?";
  }
}

static int64_t sum_va(int n, ...) {
  va_list ap;
  va_start(ap, n);
  int64_t s = 0;
  for (int i = 0; i < n; i++) s = s * 3 + (i & 1 ? va_arg(ap, long long) : va_arg(ap, int));
  va_end(ap);
  return s;
}

int main(const struct x86ft_bootinfo *bi) {
  (void)bi;
  for (unsigned long m = 0; m <= 3; m++) {
    for (unsigned long n = 0; n <= 4; n++) {
      calls = 0;
      unsigned long r = ack(m, n);
      printf("ack(%lu,%lu)=%lu[%lu] ", m, n, r, calls);
    }
    putchar('\n');
  }
  for (int n = 1; n <= 9; n++) printf("queens(%d)=%d%c", n, queens(n, 0, 0, 0, 0), n == 9 ? '\n' : ' ');
  printf("fib(24)=%llu\n", (unsigned long long)fib(24));
  hanoi(12, 1, 3, 2);
  printf("hanoi(12): %lu moves, signature %08x\n", moves, hanoi_sig);
  printf("even(1001)=%d odd(777)=%d\n", is_even(1001), is_odd(777));
  static const char *exprs[] = { "1+2*3", "(1+2)*3", "-(4-10)*-3", "100/7%4", "2*(3+(4*(5+(6*(7+8)))))", "9223372036854775807+1",
    "  12 - 3 - 4 ", "-5/2", "-5%2", "1/0" };
  for (unsigned i = 0; i < sizeof exprs / sizeof *exprs; i++) { pp = exprs[i]; printf("[%s] = %lld\n", exprs[i], (long long)expr()); }
  uint64_t x = 1;
  int64_t acc = 7;
  for (int i = 0; i < 5000; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    acc = table[x & 7](acc, (int64_t)(x >> 8) % 1000);
  }
  printf("dispatch: %lld\n", (long long)acc);
  /* factorial-ish loop in bytecode: acc=1, n=20: acc*=n while --n */
  static const int64_t prog[] = { PUSH, 1, PUSH, 20, /*4*/ DUP, PUSH, 0, ADD, SWAP, DROP, /*10*/ SWAP, OVER, MUL, SWAP, DEC, DUP, JNZ, 10, DROP, HALT };
  printf("vm: %lld\n", (long long)run_vm(prog));
  static const int64_t prog2[] = { PUSH, 0x1234, PUSH, 4, SHL, PUSH, 0xff0f, AND, PUSH, 3, SHR, NEG, PUSH, 5, OR, HALT };
  printf("vm2: %lld\n", (long long)run_vm(prog2));
  for (int d = -1; d <= 12; d++) printf("%s ", day_name(d));
  putchar('\n');
  printf("varargs: %lld\n", (long long)sum_va(7, 1, 2ll, 3, 4000000000ll, -5, -6ll, 7));
  return (int)(calls & 0xff);
}
