/* Test driver of tests/test_mcu.py (replaces kws_main.c in a Cortex-M firmware).
 *
 * Steps two models on the same features, one from a 4-byte aligned copy and one
 * from an address 2 bytes past it; their posteriors must agree.
 */
#include <stdio.h>
#include <string.h>

#include "kws_model.h"

static union {
    uint32_t align;
    int16_t v[KWS_MODEL_N_FEATURES + 2];
} buf;

int main(void)
{
    static kws_model_t a, b;
    int16_t pa[KWS_N_CLASSES], pb[KWS_N_CLASSES];
    uint32_t seed = 1u;
    kws_model_reset(&a);
    kws_model_reset(&b);
    for (int t = 0; t < 30; t++) {
        for (int k = 0; k < KWS_MODEL_N_FEATURES; k++) {
            seed = seed * 1664525u + 1013904223u;
            buf.v[k] = (int16_t)(seed >> 20);
        }
        kws_model_step(&a, buf.v, pa);
        memmove(&buf.v[1], buf.v, KWS_MODEL_N_FEATURES * sizeof(int16_t));
        kws_model_step(&b, &buf.v[1], pb);
        if (memcmp(pa, pb, sizeof(pa)) != 0) {
            return 1;
        }
    }
    printf("PASS\n");
    return 0;
}
