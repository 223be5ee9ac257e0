/* Firmware of tests/test_mcu.py: BIG_BYTES of .bss, to fill the board's RAM. */
static volatile char big[BIG_BYTES];
int main(void);
int main(void)
{
    big[0] = 0;
    return big[0];
}
