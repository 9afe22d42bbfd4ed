/* U8x8lib.h: a stand-in for the few calls of the U8x8 API (the tile/text half of the Arduino
 * library "U8g2") that the course's digit sketches make, so that they compile offline, where the
 * real library cannot be installed: for this PC and the Cortex-M4F with the Arduino stand-in
 * (Arduino.h beside this file), and for the Uno with arduino-builder when a test puts this file
 * in a library folder.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/arduino_shim). It draws nothing and talks to
 * no I2C bus, so a build with it costs the flash and RAM of the sketch and the model only, not
 * those of the real library. Compiled with -DARDUINO_SHIM_DISPLAY_LOG (not on AVR) it writes
 * every drawing call to stderr, one line each, so that a test can rebuild the screen:
 *   u8x8 begin | u8x8 clear | u8x8 clear-line ROW
 *   u8x8 text COL ROW TEXT | u8x8 text2x2 COL ROW TEXT
 *   u8x8 tile COL ROW B0 B1 ... B7   (the 8 column bytes of each tile, hex; bit 0 = top row)
 * Columns and rows count 8x8-pixel tiles: 16 x 8 of them on a 128x64 display.
 */
#ifndef TINYML_U8X8_STAND_IN_H
#define TINYML_U8X8_STAND_IN_H

#include <Arduino.h>
#include <stdint.h>

#if defined(ARDUINO_SHIM_DISPLAY_LOG) && !defined(__AVR__)
#include <stdio.h>
#define TINYML_U8X8_LOG(...) fprintf(stderr, __VA_ARGS__)
#else
#define TINYML_U8X8_LOG(...) ((void)0)
#endif

#define U8X8_PIN_NONE 255

/* The one font the sketches name; the stand-in never reads it. */
static const uint8_t u8x8_font_chroma48medium8_r[1] = {0};

class U8X8 {
 public:
  bool begin() {
    TINYML_U8X8_LOG("u8x8 begin\n");
    return true;
  }
  void setPowerSave(uint8_t) {}
  void setFont(const uint8_t *) {}
  void clearDisplay() { TINYML_U8X8_LOG("u8x8 clear\n"); }
  void clearLine(uint8_t row) {
    TINYML_U8X8_LOG("u8x8 clear-line %u\n", (unsigned)row);
    (void)row;
  }
  void drawString(uint8_t col, uint8_t row, const char *text) {
    TINYML_U8X8_LOG("u8x8 text %u %u %s\n", (unsigned)col, (unsigned)row, text);
    (void)col, (void)row, (void)text;
  }
  void draw2x2String(uint8_t col, uint8_t row, const char *text) {
    TINYML_U8X8_LOG("u8x8 text2x2 %u %u %s\n", (unsigned)col, (unsigned)row, text);
    (void)col, (void)row, (void)text;
  }
  void drawTile(uint8_t col, uint8_t row, uint8_t count, uint8_t *tiles) {
#if defined(ARDUINO_SHIM_DISPLAY_LOG) && !defined(__AVR__)
    for (uint8_t t = 0; t < count; ++t) {
      TINYML_U8X8_LOG("u8x8 tile %u %u", (unsigned)(col + t), (unsigned)row);
      for (uint8_t i = 0; i < 8; ++i) TINYML_U8X8_LOG(" %02x", (unsigned)tiles[8 * t + i]);
      TINYML_U8X8_LOG("\n");
    }
#else
    (void)col, (void)row, (void)count, (void)tiles;
#endif
  }
};

/* An SSD1306 128x64 on the board's hardware I2C (the Wire library's default pins). */
class U8X8_SSD1306_128X64_NONAME_HW_I2C : public U8X8 {
 public:
  explicit U8X8_SSD1306_128X64_NONAME_HW_I2C(uint8_t reset = U8X8_PIN_NONE,
                                             uint8_t clock = U8X8_PIN_NONE,
                                             uint8_t data = U8X8_PIN_NONE) {
    (void)reset, (void)clock, (void)data;
  }
};

#endif /* TINYML_U8X8_STAND_IN_H */
