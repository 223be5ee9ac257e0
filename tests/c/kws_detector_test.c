/*
 * Test driver of the generated detector (kws_detector_step) alone, for
 * tests/test_detector.py: argv[1] holds frames of KWS_N_CLASSES int16 q15
 * posteriors followed by one int16 gate (0 or 1). Prints one line
 * "frame keyword score_q15" per event, then PASS.
 */
#include <stdio.h>

#include "kws.h"

static kws_t k;

int main(int argc, char **argv)
{
    int16_t frame[KWS_N_CLASSES + 1];
    unsigned long t = 0;
    FILE *in;
    if (argc != 2 || (in = fopen(argv[1], "rb")) == NULL) {
        return 1;
    }
    kws_init(&k);
    while (fread(frame, sizeof(frame[0]), KWS_N_CLASSES + 1, in) == KWS_N_CLASSES + 1) {
        kws_event_t ev;
        if (kws_detector_step(&k.det, frame, frame[KWS_N_CLASSES] != 0, &ev)) {
            printf("%lu %ld %ld\n", t, (long)ev.keyword, (long)ev.score_q15);
        }
        t++;
    }
    fclose(in);
    printf("PASS\n");
    return 0;
}
