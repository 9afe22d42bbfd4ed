{{BANNER}}
#ifndef FAN_WINDOWS_H
#define FAN_WINDOWS_H

#include <stdint.h>

#if defined(__AVR__)
#include <avr/pgmspace.h>
#elif !defined(PROGMEM)
#define PROGMEM
#define pgm_read_word(p) (*(const uint16_t *)(p))
#define pgm_read_byte(p) (*(const uint8_t *)(p))
#endif

{{ORIGIN}}
 * Sample n of axis a of window w is kFanWindows[w][n * 3 + a], in counts ({{COUNTS_PER_G}} per g,
 * as a +-2 g accelerometer delivers them). */
#define FAN_WINDOWS {{N}}

static const int16_t kFanWindows[FAN_WINDOWS][{{VALUES_PER_WINDOW}}] PROGMEM = {
{{ROWS}}
};

static const char *const kFanSpeedNames[{{N_SPEEDS}}] = {{{SPEED_NAMES}}};
static const uint8_t kFanWindowSpeed[FAN_WINDOWS] PROGMEM = {{{SPEEDS}}};
static const uint8_t kFanWindowCoin[FAN_WINDOWS] PROGMEM = {{{COINS}}};

#endif /* FAN_WINDOWS_H */
