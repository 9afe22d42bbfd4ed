{{BANNER}}
// {{PROJECT}}: lesson 07's fan anomaly detector on a board. No libraries: it runs on any
// Arduino board, the 2 KB-RAM Uno included, and on an ESP32.
//
// The board has no fan here, so fan_windows.h holds {{N_WINDOWS}} one-second accelerometer
// windows (x, y, z at {{SAMPLE_RATE}} Hz, as int16 counts of a +-2 g sensor) recorded on a real
// ceiling fan by Shawn Hymel (Beerware; see fan_windows.h), each from the test part of its
// recording, none of them seen in training. For each window the sketch
//   1. computes the 12 features (fan_features.c: RMS, MAD, two DFT peaks per axis),
//   2. scores them: standardize, int8 autoencoder, reconstruction error (fan_detector.c),
//   3. compares the score with the threshold and lights the LED for an anomaly,
// and prints on Serial at 115200 baud
//   window=..., speed=..., coin=..., score=..., threshold=..., verdict=..., us=...
// A live accelerometer needs RAM for its samples and time to read them: README.md has the
// measured budget for each board.
//
// At start it checks the autoencoder: it runs fan_ae_invoke() on the input codes stored in
// fan_ae_self_test.h (those of the stored windows) and compares with the output codes
// TensorFlow Lite Micro computed for them, then prints "self-test: ok (n/n)" or the first
// output that differs.

// Pause after each window (ms) and passes over all windows before stopping (0 = forever).
// A simulator run sets them with -DTINYML_DELAY_MS=0 -DTINYML_PASSES=1. A check build
// (-DTINYML_PRINT_STAGES=1) also prints every stage of each window (the features and the
// score as float32 bits, the int8 codes into and out of the autoencoder) and, on AVR, the
// deepest stack of the run: the course compares them with NumPy and TensorFlow Lite Micro.
#ifndef TINYML_DELAY_MS
#define TINYML_DELAY_MS 1000
#endif
#ifndef TINYML_PASSES
#define TINYML_PASSES 0
#endif
#ifndef TINYML_PRINT_STAGES
#define TINYML_PRINT_STAGES 0
#endif

#include "fan_ae_self_test.h"
#include "fan_detector.h"
#include "fan_windows.h"

#if FAN_AE_SELF_TEST_INPUTS != FAN_AE_INPUTS || FAN_AE_SELF_TEST_OUTPUTS != FAN_AE_OUTPUTS
#error "fan_ae_self_test.h does not fit fan_ae.h: regenerate the project"
#endif

#if defined(__AVR__)
#include <avr/sleep.h>
#endif

#if defined(ARDUINO_ARCH_ESP32)
const int kLedPin = {{ESP32_LED_PIN}};
#else
const int kLedPin = LED_BUILTIN;  // pin 13 on the Uno
#endif

// One axis of one window: 800 bytes, the biggest piece of RAM the detector needs. The
// windows stay in flash (PROGMEM) and are read one axis at a time.
float g_axis[FAN_FEATURES_SAMPLES];
uint8_t g_window = 0;
uint8_t g_pass = 0;
uint8_t g_agree = 0;

// The 12 features of stored window w.
void window_features(uint8_t w, float *features) {
  for (uint8_t axis = 0; axis < FAN_FEATURES_AXES; ++axis) {
    for (uint16_t n = 0; n < FAN_FEATURES_SAMPLES; ++n) {
      int16_t count = (int16_t)pgm_read_word(&kFanWindows[w][n * FAN_FEATURES_AXES + axis]);
      g_axis[n] = count * (1.0f / FAN_FEATURES_COUNTS_PER_G);  // counts -> g, exact
    }
    fan_axis_features(g_axis, &features[axis], &features[3 + axis], &features[6 + axis],
                      &features[9 + axis]);
  }
}

// Run the autoencoder on the stored self-test codes once and print "self-test: ok (n/n)", or
// where its output first differs from TensorFlow Lite Micro's and what to do; return 1 if ok.
uint8_t self_test() {
  int8_t input[FAN_AE_INPUTS], output[FAN_AE_OUTPUTS];
  for (uint8_t c = 0; c < FAN_AE_SELF_TEST_CASES; ++c) {
    for (uint8_t i = 0; i < FAN_AE_INPUTS; ++i) {
      input[i] = TINYML_READ_I8(&fan_ae_self_test_inputs[c * FAN_AE_INPUTS + i]);
    }
    fan_ae_invoke(input, output);
    for (uint8_t o = 0; o < FAN_AE_OUTPUTS; ++o) {
      int8_t want = TINYML_READ_I8(&fan_ae_self_test_outputs[c * FAN_AE_OUTPUTS + o]);
      if (output[o] == want) continue;
      Serial.print(F("self-test: FAILED at case "));
      Serial.print(c + 1);
      Serial.print(F(" of "));
      Serial.print(FAN_AE_SELF_TEST_CASES);
      Serial.print(F(", output "));
      Serial.print(o);
      Serial.print(F(": got "));
      Serial.print((int)output[o]);
      Serial.print(F(", expected "));
      Serial.println((int)want);
      Serial.println(F("{{SELF_TEST_ADVICE}}"));
      return 0;
    }
  }
  Serial.print(F("self-test: ok ("));
  Serial.print(FAN_AE_SELF_TEST_CASES);
  Serial.print(F("/"));
  Serial.print(FAN_AE_SELF_TEST_CASES);
  Serial.println(F(")"));
  return 1;
}

#if TINYML_PRINT_STAGES
#include <string.h>

// Print a float32 as the 8 hex digits of its bits: exact, unlike a decimal print.
void print_bits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  char text[9];
  for (uint8_t i = 0; i < 8; ++i) {
    uint8_t nibble = (uint8_t)((bits >> (28 - 4 * i)) & 0xF);
    text[i] = (char)(nibble < 10 ? '0' + nibble : 'a' + nibble - 10);
  }
  text[8] = '\0';
  Serial.print(text);
}

void print_codes(const int8_t *codes) {
  for (uint8_t i = 0; i < FAN_FEATURES_COUNT; ++i) {
    if (i) Serial.print(F(" "));
    Serial.print((int)codes[i]);
  }
}

// Two lines (simavr cuts longer ones): stages=<window>, features=<12 x float32 bits>
// and stages=<window>, in=<12 codes>, out=<12 codes>, score=<float32 bits>
void print_stages(const float *features, const int8_t *codes_in, const int8_t *codes_out,
                  float score) {
  Serial.print(F("stages="));
  Serial.print(g_window);
  Serial.print(F(", features="));
  for (uint8_t i = 0; i < FAN_FEATURES_COUNT; ++i) {
    if (i) Serial.print(F(" "));
    print_bits(features[i]);
  }
  Serial.println();
  Serial.print(F("stages="));
  Serial.print(g_window);
  Serial.print(F(", in="));
  print_codes(codes_in);
  Serial.print(F(", out="));
  print_codes(codes_out);
  Serial.print(F(", score="));
  print_bits(score);
  Serial.println();
}
#endif

#if TINYML_PRINT_STAGES && defined(__AVR__)
// The deepest stack: fill the free RAM between the static data and the stack with a pattern
// at start, and at the end find the lowest byte that no longer holds it. The sketch allocates
// nothing, so everything there is stack (interrupts included).
extern uint8_t __heap_start;  // the first byte after .data and .bss
const uint8_t kPaint = 0xA5;

void paint_free_ram() {
  uint8_t *p = &__heap_start;
  uint8_t *top = (uint8_t *)SP;  // the next byte a push would write; all below it is free
  while (p < top) *p++ = kPaint;
}

uint16_t deepest_stack() {
  const uint8_t *p = &__heap_start;
  while (p <= (const uint8_t *)RAMEND && *p == kPaint) ++p;
  return (uint16_t)((const uint8_t *)RAMEND + 1 - p);
}
#endif

{{STOP_RUNNING}}

void setup() {
#if TINYML_PRINT_STAGES && defined(__AVR__)
  paint_free_ram();
#endif
  Serial.begin(115200);
  pinMode(kLedPin, OUTPUT);
  Serial.println(F("{{PROJECT}}: fan anomaly detector (features + int8 autoencoder)"));
  self_test();  // a failure is reported; the detector runs on so you can see its scores
}

void loop() {
  float features[FAN_FEATURES_COUNT];
  int8_t codes_in[FAN_FEATURES_COUNT], codes_out[FAN_FEATURES_COUNT];

  unsigned long start = micros();
  window_features(g_window, features);
  float score = fan_detector_score(features, codes_in, codes_out);
  uint8_t anomaly = fan_detector_is_anomaly(score);
  unsigned long us = micros() - start;

  uint8_t coin = pgm_read_byte(&kFanWindowCoin[g_window]);
  g_agree += (anomaly == coin);
  Serial.print(F("window="));
  Serial.print(g_window);
  Serial.print(F(", speed="));
  Serial.print(kFanSpeedNames[pgm_read_byte(&kFanWindowSpeed[g_window])]);
  Serial.print(F(", coin="));
  Serial.print(coin ? F("yes") : F("no"));
  Serial.print(F(", score="));
  Serial.print(score, 4);
  Serial.print(F(", threshold="));
  Serial.print(FAN_DETECTOR_THRESHOLD, 4);
  Serial.print(F(", verdict="));
  Serial.print(anomaly ? F("ANOMALY") : F("normal"));
  Serial.print(F(", us="));
  Serial.println(us);
#if TINYML_PRINT_STAGES
  print_stages(features, codes_in, codes_out, score);
#endif
  digitalWrite(kLedPin, anomaly ? HIGH : LOW);

  delay(TINYML_DELAY_MS);
  if (++g_window == FAN_WINDOWS) {
    Serial.print(F("pass "));
    Serial.print(g_pass + 1);
    Serial.print(F(": "));
    Serial.print(g_agree);
    Serial.print(F(" of "));
    Serial.print(FAN_WINDOWS);
    Serial.println(F(" verdicts match the labels"));
    g_window = 0;
    g_agree = 0;
    if (TINYML_PASSES > 0 && ++g_pass >= TINYML_PASSES) {
#if TINYML_PRINT_STAGES && defined(__AVR__)
      Serial.print(F("stack="));
      Serial.println(deepest_stack());
#endif
      stop_running();
    }
  }
}
