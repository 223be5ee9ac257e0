/* Firmware of tests/test_mcu.py: passes when its one argument is ARG_LEN characters long. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv);
int main(int argc, char **argv)
{
    if (argc != 2 || strlen(argv[1]) != ARG_LEN) {
        return 1;
    }
    printf("PASS\n");
    return 0;
}
