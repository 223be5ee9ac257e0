/* Test driver of tests/test_mcu.py (replaces kws_main.c in a Cortex-M firmware).
 *
 * Reads int32 triples (op, a, b) from IN and writes one int32 per triple to
 * OUT: op 0-2 kws_act_q15(op, a), 3 kws_mul_round_q15_s31(a, b), 4
 * kws_sat_s16_s32(a), 5 kws_mulhi_s32(a, b), 6 kws_mulhi_sub_s32(0, a, b), 7
 * kws_mulhi_halves_s32(a, b) (what ARMv6-M uses for 5 and 6, on every core).
 */
#include <stdio.h>

#include "kws_act_q15.h"
#include "kws_fixedpoint.h"

int main(int argc, char **argv)
{
    FILE *in = argc == 3 ? fopen(argv[1], "rb") : NULL;
    FILE *out = argc == 3 ? fopen(argv[2], "wb") : NULL;
    static int32_t v[3 * 256], y[256]; /* 4 KB: the micro:bit has 16 KB of RAM */
    size_t got;
    if (!in || !out) {
        return 1;
    }
    while ((got = fread(v, 3 * sizeof(int32_t), 256, in)) > 0u) {
        for (size_t k = 0; k < got; k++) {
            int32_t op = v[3 * k], a = v[3 * k + 1], b = v[3 * k + 2];
            y[k] = op < 3    ? kws_act_q15(op, a)
                   : op == 3 ? kws_mul_round_q15_s31(a, b)
                   : op == 4 ? kws_sat_s16_s32(a)
                   : op == 5 ? kws_mulhi_s32(a, b)
                   : op == 6 ? kws_mulhi_sub_s32(0, a, b)
                             : kws_mulhi_halves_s32(a, b);
        }
        fwrite(y, sizeof(int32_t), got, out);
    }
    fclose(in);
    if (fclose(out) != 0) {
        return 1;
    }
    printf("PASS\n");
    return 0;
}
