/*
 * Bare AArch64 start-up for counting instructions in the unicorn emulator
 * (kwsdk report --target rpi-aarch64): no OS, no libc. The emulator sets the
 * stack pointer and starts at _start; `svc #0` with the status in x0 ends the
 * run. memset/memcpy/memmove are here because the compiler may call them for
 * struct initialisation and copies; they work a 64-bit word at a time where
 * alignment allows, like a libc's simple path. Build this file with
 * -fno-tree-loop-distribute-patterns so its loops do not become calls to
 * themselves.
 */
#include <stddef.h>
#include <stdint.h>

int main(int argc, char **argv);

__attribute__((noreturn)) static void bare_exit(int status)
{
    register long x0 __asm__("x0") = status;
    __asm__ volatile("svc #0" : : "r"(x0) : "memory");
    for (;;) {
    }
}

void _start(void)
{
    bare_exit(main(0, NULL));
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t v = (uint8_t)c * 0x0101010101010101ull;
    while (n && ((uintptr_t)d & 7u)) {
        *d++ = (unsigned char)c;
        n--;
    }
    for (; n >= 8; n -= 8, d += 8) {
        *(uint64_t *)(void *)d = v;
    }
    while (n--) {
        *d++ = (unsigned char)c;
    }
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || n == 0) {
        return dst;
    }
    if (d < s || d >= s + n) {
        if ((((uintptr_t)d | (uintptr_t)s) & 7u) == 0) {
            for (; n >= 8; n -= 8, d += 8, s += 8) {
                *(uint64_t *)(void *)d = *(const uint64_t *)(const void *)s;
            }
        }
        while (n--) {
            *d++ = *s++;
        }
    } else {
        while (n--) {
            d[n] = s[n];
        }
    }
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    return memmove(dst, src, n);
}
