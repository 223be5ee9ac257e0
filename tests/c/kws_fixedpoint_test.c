/*
 * Test driver of the generated kws_fixedpoint.h on the host, for
 * tests/test_fixedpoint.py: argv[1] holds records of four little-endian
 * int64s (op, a, b, s); argv[2] receives one int64 per record:
 *   0 kws_rshift_round_s64(a, s)          6 kws_mul_multiplier_s64(a, (int32)b, s)
 *   1 kws_rshift_round_u64((u64)a, s)     7 kws_bitlen_u64((u64)a)
 *   2 kws_sat_s16(a)                      8 kws_bitlen_u32((u32)a)
 *   3 kws_sat_s32(a)                      9 kws_isqrt_u64((u64)a)
 *   4 kws_sat_s16_s32((int32)a)          10 kws_mulhi_s32((int32)a, (int32)b)
 *   5 kws_sat_s31(a)                     11 kws_mul_round_q15_s31((int32)a, (int32)b)
 * Unsigned results are written as their 64 bits. Prints PASS at the end.
 */
#include <stdio.h>

#include "kws_fixedpoint.h"

static int64_t apply(int64_t op, int64_t a, int64_t b, int s)
{
    switch (op) {
    case 0: return kws_rshift_round_s64(a, s);
    case 1: return (int64_t)kws_rshift_round_u64((uint64_t)a, s);
    case 2: return kws_sat_s16(a);
    case 3: return kws_sat_s32(a);
    case 4: return kws_sat_s16_s32((int32_t)a);
    case 5: return kws_sat_s31(a);
    case 6: return kws_mul_multiplier_s64(a, (int32_t)b, s);
    case 7: return kws_bitlen_u64((uint64_t)a);
    case 8: return kws_bitlen_u32((uint32_t)a);
    case 9: return kws_isqrt_u64((uint64_t)a);
    case 10: return kws_mulhi_s32((int32_t)a, (int32_t)b);
    case 11: return kws_mul_round_q15_s31((int32_t)a, (int32_t)b);
    default: return INT64_MIN;
    }
}

int main(int argc, char **argv)
{
    int64_t rec[4];
    FILE *in, *out;
    if (argc != 3 || (in = fopen(argv[1], "rb")) == NULL || (out = fopen(argv[2], "wb")) == NULL) {
        return 1;
    }
    while (fread(rec, sizeof(rec[0]), 4, in) == 4) {
        int64_t r = apply(rec[0], rec[1], rec[2], (int)rec[3]);
        if (fwrite(&r, sizeof(r), 1, out) != 1) {
            return 1;
        }
    }
    fclose(in);
    fclose(out);
    printf("PASS\n");
    return 0;
}
