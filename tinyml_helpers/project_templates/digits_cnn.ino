{{BANNER}}
// {{PROJECT}}: lesson 08's int8 convolutional network reads handwritten digits. The network is
// plain C (digits_cnn.c, no machine-learning library): it runs on the 2 KB-RAM Arduino Uno as
// well as on an ESP32.
//
// The board has no camera here, so digits_samples.h holds {{N_DIGITS}} digits of the lesson's
// test split (8x8 pixels, never seen in training) as the network's int8 input codes, with their
// labels. For each one the sketch runs digits_cnn_invoke(), prints on Serial at 115200 baud
//   digit=..., label=..., class=..., confidence=...%, us=...
// and draws the digit, the class it was read as and the confidence on a 128x64 SSD1306 OLED on
// I2C (SDA/SCL on A4/A5 of an Uno, GPIO 21/22 of an ESP32), with the library U8g2 (U8x8 mode).
//
// At start it checks the network: it runs digits_cnn_invoke() on the input codes stored in
// digits_cnn_self_test.h and compares with the output codes TensorFlow Lite Micro computed for
// them, then prints "self-test: ok (n/n)" or the first output that differs.

// Pause after each digit (ms) and passes over all digits before stopping (0 = forever).
// A simulator run sets them with -DTINYML_DELAY_MS=0 -DTINYML_PASSES=1.
#ifndef TINYML_DELAY_MS
#define TINYML_DELAY_MS {{DELAY_MS}}
#endif
#ifndef TINYML_PASSES
#define TINYML_PASSES 0
#endif

#include <U8x8lib.h>

#include "digits_cnn.h"
#include "digits_cnn_self_test.h"
#include "digits_samples.h"

#if DIGITS_CNN_SELF_TEST_INPUTS != DIGITS_CNN_INPUTS || \
    DIGITS_CNN_SELF_TEST_OUTPUTS != DIGITS_CNN_OUTPUTS || DIGITS_SAMPLE_PIXELS != DIGITS_CNN_INPUTS
#error "digits_cnn_self_test.h or digits_samples.h does not fit digits_cnn.h: regenerate the project"
#endif

#if defined(__AVR__)
#include <avr/sleep.h>
#endif

// The network's input and output, in RAM; the stored digits stay in flash (PROGMEM on AVR).
int8_t g_input[DIGITS_CNN_INPUTS];
int8_t g_output[DIGITS_CNN_OUTPUTS];
uint8_t g_digit = 0;
uint8_t g_pass = 0;
uint8_t g_right = 0;

{{DISPLAY}}

// Run the network on the stored self-test codes once and print "self-test: ok (n/n)", or
// where its output first differs from TensorFlow Lite Micro's and what to do; return 1 if ok.
uint8_t self_test() {
  for (uint8_t c = 0; c < DIGITS_CNN_SELF_TEST_CASES; ++c) {
    for (uint8_t i = 0; i < DIGITS_CNN_INPUTS; ++i) {
      g_input[i] = TINYML_READ_I8(&digits_cnn_self_test_inputs[c * DIGITS_CNN_INPUTS + i]);
    }
    digits_cnn_invoke(g_input, g_output);
    for (uint8_t o = 0; o < DIGITS_CNN_OUTPUTS; ++o) {
      int8_t want = TINYML_READ_I8(&digits_cnn_self_test_outputs[c * DIGITS_CNN_OUTPUTS + o]);
      if (g_output[o] == want) continue;
      Serial.print(F("self-test: FAILED at case "));
      Serial.print(c + 1);
      Serial.print(F(" of "));
      Serial.print(DIGITS_CNN_SELF_TEST_CASES);
      Serial.print(F(", output "));
      Serial.print(o);
      Serial.print(F(": got "));
      Serial.print((int)g_output[o]);
      Serial.print(F(", expected "));
      Serial.println((int)want);
      Serial.println(F("{{SELF_TEST_ADVICE}}"));
      return 0;
    }
  }
  Serial.print(F("self-test: ok ("));
  Serial.print(DIGITS_CNN_SELF_TEST_CASES);
  Serial.print(F("/"));
  Serial.print(DIGITS_CNN_SELF_TEST_CASES);
  Serial.println(F(")"));
  return 1;
}

{{STOP_RUNNING}}

void setup() {
  Serial.begin(115200);
  g_display.begin();  // initialize, clear, switch on
  g_display.setFont(u8x8_font_chroma48medium8_r);
  Serial.println(F("{{PROJECT}}: int8 CNN on 8x8 digits (plain C), SSD1306 display"));
  self_test();  // a failure is reported; the digits are read on so you can see the results
}

void loop() {
  for (uint8_t i = 0; i < DIGITS_CNN_INPUTS; ++i) {
    g_input[i] = DIGITS_SAMPLE_READ(&kDigitCodes[g_digit][i]);
  }
  unsigned long start = micros();
  digits_cnn_invoke(g_input, g_output);
  unsigned long us = micros() - start;

  uint8_t label = (uint8_t)DIGITS_SAMPLE_READ(&kDigitLabels[g_digit]);
  uint8_t cls = top_class(g_output, DIGITS_CNN_OUTPUTS);
  uint16_t permille = confidence_permille(g_output[cls], DIGITS_CNN_OUTPUT_SCALE,
                                          DIGITS_CNN_OUTPUT_ZERO_POINT);
  g_right += (cls == label);
  print_result(g_digit, label, cls, permille, us);
  draw_digit(g_input, DIGITS_CNN_INPUT_SCALE, DIGITS_CNN_INPUT_ZERO_POINT);
  draw_result(label, cls, permille);

  delay(TINYML_DELAY_MS);
  if (++g_digit == DIGITS_SAMPLES) {
    print_pass(g_pass + 1, g_right, DIGITS_SAMPLES);
    g_digit = 0;
    g_right = 0;
    if (TINYML_PASSES > 0 && ++g_pass >= TINYML_PASSES) stop_running();
  }
}
