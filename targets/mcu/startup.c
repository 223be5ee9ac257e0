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
 *
 * Memory (sections.ld): newlib's heap (its FILE blocks, and any buffers
 * the program leaves it to allocate) grows from __heap_start and _sbrk
 * refuses to pass __stack_limit, the bottom of the stack's reserve. The
 * reserve is painted at reset; at exit the firmware prints "STACK peak=N
 * reserve=R heap=H" and fails the run when the stack has written into the
 * reserve's bottom STACK_GUARD bytes. (Painting sees what was written: a
 * single frame larger than the rest of the reserve that leaves the guard
 * untouched would go unseen; no core here has an MPU set up to catch it.)
 * The bare build has none of this:
 * kwsdk.report paints and measures its stack from the emulator, and counts
 * only the library's instructions.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern char __heap_start[], __stack_limit[];
extern int main(int argc, char **argv);
#ifndef KWS_BARE
extern void initialise_monitor_handles(void);
#endif

/* The longest command line (program and arguments) the firmware takes:
 * kwsdk.mcu.qemu_command refuses longer ones. */
#ifndef KWS_CMDLINE_MAX
#define KWS_CMDLINE_MAX 511u
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

#ifndef KWS_BARE
#define STACK_PAINT 0xA5A5A5A5u
#define STACK_GUARD 32u /* bytes at the bottom of the reserve the stack must never touch */

static char *heap_end = __heap_start;

/* newlib's memory (the weak _sbrk of librdimon checks only against the
 * current stack pointer, not against the stack's reserve). */
void *_sbrk(ptrdiff_t incr);
void *_sbrk(ptrdiff_t incr)
{
    uintptr_t end = (uintptr_t)heap_end;
    if (incr > 0 ? (uintptr_t)incr > (uintptr_t)__stack_limit - end
                 : (uintptr_t)-incr > end - (uintptr_t)__heap_start) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = heap_end;
    heap_end += incr;
    return old;
}

/* Paint the reserve from its bottom to just below the caller's frame. */
static void paint_stack(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uintptr_t a = (uintptr_t)__stack_limit; a + 64u < sp; a += 4u) {
        *(volatile uint32_t *)a = STACK_PAINT;
    }
}

static char *put_uint(char *p, uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        *p++ = digits[--n];
    }
    return p;
}

/* Print the stack's high-water mark and the heap's size; 0 if the stack
 * reached the guard at the bottom of its reserve. */
static int check_stack(void)
{
    uintptr_t top = (uintptr_t)&_estack, a = (uintptr_t)__stack_limit;
    while (a < top && *(const volatile uint32_t *)a == STACK_PAINT) {
        a += 4u;
    }
    uint32_t peak = (uint32_t)(top - a);
    uint32_t reserve = (uint32_t)(top - (uintptr_t)__stack_limit);
    int ok = peak + STACK_GUARD <= reserve;
    char line[96];
    char *q = line;
    const char *parts[] = {ok ? "STACK peak=" : "FAIL: stack overflow: peak=", " reserve=", " heap="};
    const uint32_t values[] = {peak, reserve, (uint32_t)((uintptr_t)heap_end - (uintptr_t)__heap_start)};
    for (size_t i = 0; i < 3u; i++) {
        size_t len = strlen(parts[i]);
        memcpy(q, parts[i], len);
        q = put_uint(q + len, values[i]);
    }
    *q++ = '\n';
    *q = '\0';
    semihost(SYS_WRITE0, line);
    return ok;
}
#endif

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
    paint_stack();
    initialise_monitor_handles();
    static char cmd[KWS_CMDLINE_MAX + 1];
    static char *argv[16];
    /* The size counts the NUL that the debugger writes after the line. */
    uintptr_t block[2] = {(uintptr_t)cmd, sizeof(cmd)};
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
    int ok = main(argc, argv) == 0;
    semihost_exit(check_stack() && ok);
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
