/* Firmware of tests/test_mcu.py: malloc until it returns NULL; the highest
 * block must end within 256 B below the stack's reserve (__stack_limit). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
extern char __stack_limit[];
int main(void);
int main(void)
{
    void **head = NULL;
    uintptr_t top = 0;
    unsigned n = 0;
    for (void **p; (p = malloc(64)) != NULL; n++) {
        *p = head;
        head = p;
        top = (uintptr_t)p + 64u > top ? (uintptr_t)p + 64u : top;
    }
    while (head != NULL) {
        void **next = *head;
        free(head);
        head = next;
    }
    uintptr_t limit = (uintptr_t)__stack_limit;
    if (n == 0u || top > limit || limit - top > 256u) {
        return 1;
    }
    printf("PASS blocks=%u\n", n);
    return 0;
}
