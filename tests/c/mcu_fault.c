/* Firmware of tests/test_mcu.py: one word load from FAULT_ADDRESS, through a
 * volatile pointer so that the compiler emits exactly that load. */
int main(void);
int main(void)
{
    volatile int *volatile p = (volatile int *)FAULT_ADDRESS;
    return *p;
}
