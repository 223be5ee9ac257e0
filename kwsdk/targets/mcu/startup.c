/*
 * kwsdk test firmware support for QEMU's mps2 boards (and any Cortex-M with
 * flash at 0x0 and RAM at 0x20000000): vector table, reset handler, fault
 * handler, and the semihosting calls the test driver needs.
 * Reset: copy .data, zero .bss, enable the FPU where the ABI uses it, set up
 * newlib's semihosting stdio (rdimon), fetch argv with SYS_GET_CMDLINE, run
 * main, and exit through SYS_EXIT: ApplicationExit when main returns 0,
 * RunTimeErrorUnknown otherwise, so QEMU's exit status is 0 only for success.
 * Every fault prints "FAULT" and exits with failure, so a crash is never
 * reported as a pass. With KWS_BARE (the instruction-counting build) there is
 * no stdio: main runs without arguments and only SYS_EXIT is used.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(int argc, char **argv);
#ifndef KWS_BARE
extern void initialise_monitor_handles(void);
#endif

#define SYS_WRITE0 0x04
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT 0x18
#define ADP_APPLICATION_EXIT 0x20026u
#define ADP_RUNTIME_ERROR 0x20023u

static uintptr_t semihost(uintptr_t op, const void *arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void semihost_exit(int ok)
{
    semihost(SYS_EXIT, (const void *)(uintptr_t)(ok ? ADP_APPLICATION_EXIT : ADP_RUNTIME_ERROR));
    for (;;) {
    }
}

void Reset_Handler(void);
void Fault_Handler(void);

void Reset_Handler(void)
{
    memcpy(&_sdata, &_sidata, (size_t)((char *)&_edata - (char *)&_sdata));
    memset(&_sbss, 0, (size_t)((char *)&_ebss - (char *)&_sbss));
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10, CP11 full access */
    __asm__ volatile("dsb\n\tisb");
#endif
#ifdef KWS_BARE
    /* Bare build (instruction counting): no stdio, no arguments. */
    semihost_exit(main(0, NULL) == 0);
#else
    initialise_monitor_handles();
    static char cmd[1024];
    static char *argv[16];
    uintptr_t block[2] = {(uintptr_t)cmd, sizeof(cmd) - 1u};
    int argc = 0;
    if (semihost(SYS_GET_CMDLINE, block) == 0u) {
        char *p = cmd;
        while (*p != '\0' && argc < 15) {
            while (*p == ' ') {
                *p++ = '\0';
            }
            if (*p == '\0') {
                break;
            }
            argv[argc++] = p;
            while (*p != '\0' && *p != ' ') {
                p++;
            }
        }
    }
    argv[argc] = NULL;
    semihost_exit(main(argc, argv) == 0);
#endif
}

void Fault_Handler(void)
{
    semihost(SYS_WRITE0, "FAULT\n");
    semihost_exit(0);
}

/* Initial stack pointer, then the exception handlers (NMI, HardFault,
 * MemManage, BusFault, UsageFault, reserved x4, SVC, DebugMon, reserved,
 * PendSV, SysTick): all faults end the run with failure. */
__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_estack, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, NULL, NULL, NULL, NULL, Fault_Handler, Fault_Handler, NULL, Fault_Handler,
    Fault_Handler,
};
