{{BANNER}}
#ifndef DIGITS_SAMPLES_H
#define DIGITS_SAMPLES_H

#include <stdint.h>

/* {{N}} digits of lesson 08's test split, none seen in training, as the network's int8 input
 * codes (8x8 pixels, row by row), and their labels. On AVR boards they stay in flash
 * (PROGMEM): read every value with DIGITS_SAMPLE_READ. */
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define DIGITS_SAMPLE_CONST PROGMEM
#define DIGITS_SAMPLE_READ(p) ((int8_t)pgm_read_byte(p))
#else
#define DIGITS_SAMPLE_CONST
#define DIGITS_SAMPLE_READ(p) (*(p))
#endif

#define DIGITS_SAMPLES {{N}}
#define DIGITS_SAMPLE_PIXELS {{PIXELS}}

static const int8_t kDigitCodes[DIGITS_SAMPLES][DIGITS_SAMPLE_PIXELS] DIGITS_SAMPLE_CONST = {
{{ROWS}}
};
static const uint8_t kDigitLabels[DIGITS_SAMPLES] DIGITS_SAMPLE_CONST = {{{LABELS}}};

#endif /* DIGITS_SAMPLES_H */
