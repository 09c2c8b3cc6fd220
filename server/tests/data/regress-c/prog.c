/*
 * Synthetic "app" for regression-detection test data (see README.md).
 * One source, three versions selected with -DVARIANT=1|2|3.
 *
 * Every function below owns its own busy loop (the BURN macro expands in
 * place, so the cost is self time of the function that uses it).
 * noipa = noinline + noclone + no IPA-SRA/ICF: function names stay exact.
 * Work is deterministic: fixed request count, request sizes from a
 * fixed-seed xorshift, iteration counts read through argv/volatile so the
 * compiler cannot fold them.
 *
 * Cost units per request, v1 (1 unit = `unit` xorshift iterations, `unit`
 * = argv[2] times the request's size factor, 0.5 to 1.5):
 *   main 2, handle_request 3, parse_input 15, compute 2, hash_block 25,
 *   checksum 3 + 3 x crc_step(5), render_output 5 + 2 x crc_step(5),
 *   format_row 20                                          = 100 units
 * v2: hash_block 35 (+40%), checksum calls crc_step 6x (+15),
 *     render_output also calls the new escape_html (8)     = 133 units
 * v3: v2 with parse_input halved (7.5)                     = 125.5 units
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef VARIANT
#define VARIANT 1
#endif

#define NOINL __attribute__((noipa))

static volatile uint64_t sink;
static long unit; /* iterations per cost unit of the current request */

/*
 * n iterations of xorshift64, result folded into sink.  The volatile stack
 * slot gives every function a stack frame: without it gcc 12 (x86-64) emits
 * no push %rbp in leaf functions even with -fno-omit-frame-pointer and
 * -mno-omit-leaf-frame-pointer, and a frame-pointer unwind taken inside such
 * a leaf loses the leaf's caller (main;handle_request;compute;crc_step
 * instead of ...;compute;checksum;crc_step).
 */
#define BURN(n, seed)                                   \
    do {                                                \
        volatile int fp_anchor_ = 0;                    \
        uint64_t x_ = (uint64_t)(seed) | 1u;            \
        long n_ = (n);                                  \
        for (long i_ = 0; i_ < n_; i_++) {              \
            x_ ^= x_ << 13;                             \
            x_ ^= x_ >> 7;                              \
            x_ ^= x_ << 17;                             \
        }                                               \
        sink += x_ + (uint64_t)fp_anchor_;              \
    } while (0)

#if VARIANT == 1
#define HASH_UNITS_X10 250
#define CHECKSUM_CRC_CALLS 3
#define PARSE_UNITS_X10 150
#elif VARIANT == 2
#define HASH_UNITS_X10 350
#define CHECKSUM_CRC_CALLS 6
#define PARSE_UNITS_X10 150
#elif VARIANT == 3
#define HASH_UNITS_X10 350
#define CHECKSUM_CRC_CALLS 6
#define PARSE_UNITS_X10 75
#else
#error "VARIANT must be 1, 2 or 3"
#endif

NOINL uint64_t crc_step(uint64_t v)
{
    BURN(5 * unit, v);
    return v * 31 + 7;
}

NOINL uint64_t parse_input(uint64_t req)
{
    BURN(PARSE_UNITS_X10 * unit / 10, req);
    return req ^ 0x5bd1e995u;
}

NOINL uint64_t hash_block(uint64_t v)
{
    BURN(HASH_UNITS_X10 * unit / 10, v);
    return v + 0x9e3779b97f4a7c15ull;
}

NOINL uint64_t checksum(uint64_t v)
{
    for (int i = 0; i < CHECKSUM_CRC_CALLS; i++)
        v = crc_step(v);
    BURN(3 * unit, v);
    return v;
}

NOINL uint64_t compute(uint64_t v)
{
    v = hash_block(v);
    v = checksum(v);
    BURN(2 * unit, v);
    return v;
}

NOINL uint64_t format_row(uint64_t v)
{
    BURN(20 * unit, v);
    return v ^ (v >> 3);
}

#if VARIANT >= 2
NOINL uint64_t escape_html(uint64_t v)
{
    BURN(8 * unit, v);
    return v + 0x3c;
}
#endif

NOINL uint64_t render_output(uint64_t v)
{
    v = crc_step(v);
    v = format_row(v);
#if VARIANT >= 2
    v = escape_html(v);
#endif
    v = crc_step(v);
    BURN(5 * unit, v);
    return v;
}

NOINL uint64_t handle_request(uint64_t req)
{
    uint64_t v = parse_input(req);
    v = compute(v);
    v = render_output(v);
    BURN(3 * unit, v);
    return v;
}

int main(int argc, char **argv)
{
    long requests = argc > 1 ? atol(argv[1]) : 2000;
    long base_unit = argc > 2 ? atol(argv[2]) : 2400;
    uint64_t size_rng = 0x2545f4914f6cdd1dull; /* fixed seed */
    uint64_t acc = 0;
    for (long r = 0; r < requests; r++) {
        /*
         * Request sizes vary (0.5x to 1.5x, same factor for every function of
         * the request, so the cost split is unchanged): with a fixed request
         * length the 1 ms cpu-clock timer phase-locks to the request loop
         * and the shares of one run swing by several points.
         */
        size_rng ^= size_rng << 13;
        size_rng ^= size_rng >> 7;
        size_rng ^= size_rng << 17;
        unit = base_unit * (long)(512 + size_rng % 1024) / 1024;
        acc += handle_request((uint64_t)r + (uint64_t)argc);
        BURN(2 * unit, acc);
    }
    printf("v%d requests=%ld unit=%ld result=%016llx\n", VARIANT, requests,
           base_unit, (unsigned long long)(acc ^ sink));
    return 0;
}
