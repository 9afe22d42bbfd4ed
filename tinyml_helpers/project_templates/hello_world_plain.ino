{{BANNER}}
// {{PROJECT}}: the sine model of lesson 01 as plain C. No libraries: it runs on any Arduino
// board, the 2 KB-RAM Uno included. The weights are C arrays in sine_int8.c / sine_float.c;
// the dense-layer loops are in tinyml_kernels.c.
//
// At start it checks itself: it runs the model on the inputs stored in sine_self_test.h and
// compares with the outputs TensorFlow Lite Micro computed for them when the course generated
// this folder, then prints "self-test: ok (n/n)" or the first output that differs.
//
// Every step it feeds one x of [0, 2*pi) to the model, prints
//   x=..., y=..., sin=..., us=...      (and cycles=... on AVR boards such as the Uno)
// on Serial at 115200 baud, and fades an LED by the prediction y.

// 1 = the int8 model (integer arithmetic, bit-exact with TensorFlow Lite Micro);
// 0 = the float32 model. Both .c files are compiled; the linker keeps only the one used.
#ifndef USE_INT8
#define USE_INT8 1
#endif
// Pause between inferences (ms) and periods to run before stopping (0 = forever). A simulator
// run sets them with -DTINYML_DELAY_MS=0 -DTINYML_PASSES=1.
#ifndef TINYML_DELAY_MS
#define TINYML_DELAY_MS 100
#endif
#ifndef TINYML_PASSES
#define TINYML_PASSES 0
#endif

#include <math.h>

#include "sine_float.h"
#include "sine_int8.h"
#include "sine_self_test.h"

// The LED needs a PWM pin to fade.
#if defined(ARDUINO_ARCH_AVR)
// Uno: LED_BUILTIN (pin 13) has no PWM. Pin 11 is PWM on Timer2; pin 9 would need Timer1,
// which this sketch borrows to count CPU cycles.
const int kLedPin = 11;
#elif defined(ARDUINO_ARCH_ESP32)
const int kLedPin = 2;  // any ESP32 GPIO can do PWM (analogWrite uses the LEDC peripheral)
#else
const int kLedPin = LED_BUILTIN;
#endif

const int kSteps = {{STEPS}};  // x values per period, as in the TensorFlow Lite Micro hello_world
const float kXRange = 2.0f * (float)M_PI;  // the model was trained on x in [0, 2*pi]

int g_step = 0;
int g_pass = 0;

#if defined(__AVR__)
#include <avr/interrupt.h>
#include <avr/sleep.h>
// Timer1 counts every CPU clock (no prescaler); its overflow interrupt extends it to 32 bits.
volatile uint16_t g_overflows = 0;
ISR(TIMER1_OVF_vect) { g_overflows++; }

// The count includes the millis() interrupt (about 100 cycles each 1,024 us).
void cycles_start() {
  TCCR1B = 0;
  TCCR1A = 0;
  TCNT1 = 0;
  g_overflows = 0;
  TIFR1 = _BV(TOV1);
  TIMSK1 = _BV(TOIE1);
  TCCR1B = _BV(CS10);  // start: clk/1
}

uint32_t cycles_stop() {
  uint8_t sreg = SREG;
  cli();
  uint16_t low = TCNT1;  // read while running (simavr's TCNT1 reads 0 once stopped)
  uint32_t high = g_overflows;
  if ((TIFR1 & _BV(TOV1)) && low < 0x8000) high++;  // an overflow not yet counted
  TCCR1B = 0;  // stop
  TIMSK1 = 0;
  TIFR1 = _BV(TOV1);
  SREG = sreg;
  return (high << 16) | low;
}
#endif

// Run the model on x once; return the prediction y.
float predict(float x) {
#if USE_INT8
  // Quantize: code = round(x / scale) + zero_point, clamped to int8.
  long code = lroundf(x / SINE_INT8_INPUT_SCALE) + SINE_INT8_INPUT_ZERO_POINT;
  int8_t input[SINE_INT8_INPUTS] = {(int8_t)constrain(code, -128L, 127L)};
  int8_t output[SINE_INT8_OUTPUTS];
  sine_int8_invoke(input, output);
  // Dequantize: y = scale * (code - zero_point).
  return SINE_INT8_OUTPUT_SCALE * (float)(output[0] - SINE_INT8_OUTPUT_ZERO_POINT);
#else
  float input[SINE_FLOAT_INPUTS] = {x};
  float output[SINE_FLOAT_OUTPUTS];
  sine_float_invoke(input, output);
  return output[0];
#endif
}

// Print "self-test: ok (n/n)".
void self_test_ok(uint8_t cases) {
  Serial.print(F("self-test: ok ("));
  Serial.print(cases);
  Serial.print(F("/"));
  Serial.print(cases);
  Serial.println(F(")"));
}

// Print where the self-test first differs (1-based case, output index, got, expected with
// `digits` decimals) and what to do about it.
void self_test_failed(uint8_t test_case, uint8_t cases, uint8_t output, float got, float want,
                      uint8_t digits) {
  Serial.print(F("self-test: FAILED at case "));
  Serial.print(test_case + 1);
  Serial.print(F(" of "));
  Serial.print(cases);
  Serial.print(F(", output "));
  Serial.print(output);
  Serial.print(F(": got "));
  Serial.print(got, digits);
  Serial.print(F(", expected "));
  Serial.print(want, digits);
  Serial.println();
  Serial.println(F("{{SELF_TEST_ADVICE}}"));
}

// Run the model on the stored self-test inputs once; return 1 if every output is the one
// TensorFlow Lite Micro gave (int8: exactly; float32: within a tolerance, as FMA and libm
// differ between chips in the last bits).
uint8_t self_test() {
#if USE_INT8
#if SINE_INT8_SELF_TEST_INPUTS != SINE_INT8_INPUTS || \
    SINE_INT8_SELF_TEST_OUTPUTS != SINE_INT8_OUTPUTS
#error "sine_self_test.h does not fit sine_int8.h: regenerate the project"
#endif
  const uint8_t cases = SINE_INT8_SELF_TEST_CASES;
  for (uint8_t c = 0; c < cases; ++c) {
    int8_t input[SINE_INT8_INPUTS], output[SINE_INT8_OUTPUTS];
    for (uint8_t i = 0; i < SINE_INT8_INPUTS; ++i) {
      input[i] = TINYML_READ_I8(&sine_int8_self_test_inputs[c * SINE_INT8_INPUTS + i]);
    }
    sine_int8_invoke(input, output);
    for (uint8_t o = 0; o < SINE_INT8_OUTPUTS; ++o) {
      int8_t want = TINYML_READ_I8(&sine_int8_self_test_outputs[c * SINE_INT8_OUTPUTS + o]);
      if (output[o] != want) {
        self_test_failed(c, cases, o, output[o], want, 0);
        return 0;
      }
    }
  }
#else
#if SINE_FLOAT_SELF_TEST_INPUTS != SINE_FLOAT_INPUTS || \
    SINE_FLOAT_SELF_TEST_OUTPUTS != SINE_FLOAT_OUTPUTS
#error "sine_self_test.h does not fit sine_float.h: regenerate the project"
#endif
  const uint8_t cases = SINE_FLOAT_SELF_TEST_CASES;
  for (uint8_t c = 0; c < cases; ++c) {
    float input[SINE_FLOAT_INPUTS], output[SINE_FLOAT_OUTPUTS];
    for (uint8_t i = 0; i < SINE_FLOAT_INPUTS; ++i) {
      input[i] = TINYML_READ_F32(&sine_float_self_test_inputs[c * SINE_FLOAT_INPUTS + i]);
    }
    sine_float_invoke(input, output);
    for (uint8_t o = 0; o < SINE_FLOAT_OUTPUTS; ++o) {
      float want = TINYML_READ_F32(&sine_float_self_test_outputs[c * SINE_FLOAT_OUTPUTS + o]);
      if (!(fabsf(output[o] - want) <= SINE_FLOAT_SELF_TEST_TOLERANCE)) {  // NaN fails too
        self_test_failed(c, cases, o, output[o], want, 6);
        return 0;
      }
    }
  }
#endif
  self_test_ok(cases);
  return 1;
}

{{STOP_RUNNING}}

void setup() {
  Serial.begin(115200);
  pinMode(kLedPin, OUTPUT);
#if USE_INT8
  Serial.println(F("{{PROJECT}}: int8 model (sine_int8.c)"));
#else
  Serial.println(F("{{PROJECT}}: float32 model (sine_float.c)"));
#endif
  self_test();  // a failure is reported; the sketch runs on so you can see what it computes
}

void loop() {
  float x = kXRange * g_step / kSteps;

  unsigned long start = micros();
  float y = predict(x);
  unsigned long us = micros() - start;  // includes timer interrupts; 4 us steps on a 16 MHz AVR

  Serial.print(F("x="));
  Serial.print(x, 3);
  Serial.print(F(", y="));
  Serial.print(y, 3);
  Serial.print(F(", sin="));
  Serial.print(sinf(x), 3);
  Serial.print(F(", us="));
  Serial.print(us);
#if defined(__AVR__)
  Serial.flush();  // no serial interrupts while counting cycles
  cycles_start();
  predict(x);  // the same inference again, timed in CPU cycles
  uint32_t cycles = cycles_stop();
  Serial.print(F(", cycles="));
  Serial.print(cycles);
#endif
  Serial.println();

  // Fade the LED: y in [-1, 1] -> duty cycle 0..255.
  analogWrite(kLedPin, (int)constrain((y + 1.0f) * 127.5f, 0.0f, 255.0f));

  delay(TINYML_DELAY_MS);
  if (++g_step == kSteps) {
    g_step = 0;
    if (TINYML_PASSES > 0 && ++g_pass >= TINYML_PASSES) stop_running();
  }
}
