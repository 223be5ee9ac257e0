/* Firmware of tests/test_mcu.py: one stack frame of FRAME_BYTES, written whole. */
#include <stdio.h>
int main(void);
__attribute__((noinline)) static int fill(void)
{
    volatile char buf[FRAME_BYTES];
    for (unsigned i = 0; i < sizeof(buf); i++) {
        buf[i] = (char)i;
    }
    return buf[7] - 7;
}
int main(void)
{
    int r = fill();
    printf("PASS\n");
    return r;
}
