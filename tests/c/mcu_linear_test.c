/* Test driver of tests/test_mcu.py (replaces kws_main.c in a Cortex-M firmware).
 *
 * Reads matrices and inputs from IN and writes kws_linear_s8's outputs to OUT.
 * Per case, int32s: rows, cols, then for each pointer of kws_linear_t (w, mult,
 * shift, bias, mult_offset) a count (-1: NULL) and that many values, then x.
 */
#include <stdio.h>

#include "kws_model.h"

static int read_array(FILE *in, int32_t *v, size_t cap, int32_t *n)
{
    return fread(n, sizeof(int32_t), 1, in) == 1u && (*n < 0 || (size_t)*n <= cap) &&
           (*n < 0 || fread(v, sizeof(int32_t), (size_t)*n, in) == (size_t)*n);
}

int main(int argc, char **argv)
{
    static int32_t a[5][4096], x32[512], y[512];
    static int8_t shift[512];
    static union {
        uint32_t align; /* the wide kernel loads x with LDRD */
        int16_t v[512];
    } x;
    FILE *in = argc == 3 ? fopen(argv[1], "rb") : NULL;
    FILE *out = argc == 3 ? fopen(argv[2], "wb") : NULL;
    int32_t shape[2], n[5];
    if (!in || !out) {
        return 1;
    }
    while (fread(shape, sizeof(int32_t), 2, in) == 2u) {
        for (int f = 0; f < 5; f++) {
            if (!read_array(in, a[f], 4096u, &n[f])) {
                return 1;
            }
        }
        if (shape[0] > 512 || shape[1] > 512 || n[2] > 512 ||
            fread(x32, sizeof(int32_t), (size_t)shape[1], in) != (size_t)shape[1]) {
            return 1;
        }
        for (int32_t k = 0; k < n[2]; k++) {
            shift[k] = (int8_t)a[2][k];
        }
        for (int32_t k = 0; k < shape[1]; k++) {
            x.v[k] = (int16_t)x32[k];
        }
        const kws_linear_t l = {(const void *)a[0], n[1] < 0 ? NULL : a[1], n[2] < 0 ? NULL : shift,
                                n[3] < 0 ? NULL : a[3], n[4] < 0 ? NULL : a[4], (uint16_t)shape[0],
                                (uint16_t)shape[1]};
        kws_linear_s8(&l, x.v, y);
        fwrite(y, sizeof(int32_t), (size_t)shape[0], out);
    }
    fclose(in);
    if (fclose(out) != 0) {
        return 1;
    }
    printf("PASS\n");
    return 0;
}
