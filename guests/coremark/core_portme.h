/* x86ft's CoreMark port (own code; CoreMark's sources are read from ../shared/coremark by the build).
 * One port, three targets, chosen by the build:
 *   - the boot contract (x86-64 bare metal, guests/sdk): time from RDTSC, which x86ft defines as
 *     nanoseconds of guest time (README "Boot contract");
 *   - X86FT_NATIVE: the host build (host libc), the reference: time from CLOCK_MONOTONIC in ns;
 *   - X86FT_MULTIBOOT: a 32-bit multiboot kernel for the v86 peer (mb_start.S): console on COM1, no
 *     clock of its own (the bench times it at the "start"/"stop" marks the port prints).
 * Seeds and iterations come from the command line, as CoreMark's SEED_ARG method expects:
 * "SEED1 SEED2 SEED3 ITERATIONS" (the performance run is "0 0 0x66 N"). */
#ifndef CORE_PORTME_H
#define CORE_PORTME_H

#include <stdint.h>
#include <stddef.h>

#define HAS_FLOAT 1
#define HAS_TIME_H 0
#define USE_CLOCK 0
#define HAS_STDIO 0
#define HAS_PRINTF 0

/* Ticks: nanoseconds (RDTSC under x86ft, CLOCK_MONOTONIC natively); the multiboot kernel has none. */
#ifdef X86FT_MULTIBOOT
typedef uint32_t CORE_TICKS; /* always 0: 64-bit conversions would need libgcc, which -m32 lacks here */
#else
typedef uint64_t CORE_TICKS;
#endif
#define EE_TICKS_PER_SEC 1000000000.0

#ifndef COMPILER_VERSION
#define COMPILER_VERSION "GCC" __VERSION__
#endif
#ifndef COMPILER_FLAGS
#define COMPILER_FLAGS "-O2"
#endif
#ifdef X86FT_NATIVE
#define MEM_LOCATION "static (host build)"
#elif defined(X86FT_MULTIBOOT)
#define MEM_LOCATION "static (32-bit multiboot kernel)"
#else
#define MEM_LOCATION "static (x86ft boot contract)"
#endif

typedef int16_t ee_s16;
typedef uint16_t ee_u16;
typedef int32_t ee_s32;
typedef double ee_f32;
typedef uint8_t ee_u8;
typedef uint32_t ee_u32;
typedef uintptr_t ee_ptr_int;
typedef size_t ee_size_t;
#define NULL_PTR ((void *)0)
/* align an address to the next 4-byte boundary (CoreMark's own definition) */
#define align_mem(x) (void *)(4 + (((ee_ptr_int)(x)-1) & ~3))

#define SEED_METHOD SEED_ARG
#define MEM_METHOD MEM_STATIC
#define MULTITHREAD 1
#define USE_PTHREAD 0
#define USE_FORK 0
#define USE_SOCKET 0
#define MAIN_HAS_NOARGC 0
#define MAIN_HAS_NORETURN 0

extern ee_u32 default_num_contexts;

typedef struct CORE_PORTABLE_S {
  ee_u8 portable_id;
} core_portable;

void portable_init(core_portable *p, int *argc, char *argv[]);
void portable_fini(core_portable *p);

int ee_printf(const char *fmt, ...);

#if !defined(PROFILE_RUN) && !defined(PERFORMANCE_RUN) && !defined(VALIDATION_RUN)
#define PERFORMANCE_RUN 1
#endif

#endif /* CORE_PORTME_H */
