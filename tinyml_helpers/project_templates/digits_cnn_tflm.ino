{{BANNER}}
// {{PROJECT}}: lesson 08's int8 convolutional network run by TensorFlow Lite Micro, which
// interprets the .tflite flatbuffer stored as a C array in model.cpp. Board: ESP32 with the
// arduino-esp32 core 3.x, whose built-in "TFLite Micro" library provides the headers below;
// the display needs the library U8g2 (see README.md).
//
// At start it checks itself: the model runs on the stored digits, whose output codes TensorFlow
// Lite Micro's reference kernels computed when the project was generated (model_self_test.h),
// and it prints "self-test: ok (N/N)" or the first difference. Then for each of the
// {{N_DIGITS}} stored test digits (digits_samples.h) it prints on Serial at 115200 baud
//   digit=..., label=..., class=..., confidence=...%, us=...
// and draws the digit, the class and the confidence on a 128x64 SSD1306 OLED on I2C
// (SDA GPIO 21, SCL GPIO 22).

// The library is built with TF_LITE_STATIC_MEMORY, which changes the layout of TfLiteTensor:
// a sketch that includes the TFLM headers without it reads the wrong fields and prints
// garbage. Defining it here, before those headers, makes the sketch agree with the library
// whether or not the build passes -DTF_LITE_STATIC_MEMORY.
#ifndef TF_LITE_STATIC_MEMORY
#define TF_LITE_STATIC_MEMORY
#endif

// The "TFLite Micro" library ships with the arduino-esp32 core 3.x only: the core 4.x
// (ESP-IDF 6) no longer has it.
#if defined(ARDUINO_ARCH_ESP32)
#include <esp_arduino_version.h>
#if ESP_ARDUINO_VERSION_MAJOR != 3
#error "this sketch needs the arduino-esp32 core 3.x, whose built-in TFLite Micro library it uses"
#endif
#endif

// Pause after each digit (ms).
#ifndef TINYML_DELAY_MS
#define TINYML_DELAY_MS {{DELAY_MS}}
#endif

#include <U8x8lib.h>

#include "digits_samples.h"
#include "model.h"
#include "model_self_test.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
#include "tflm_ops.h"

namespace {
tflite::MicroInterpreter *g_interpreter = nullptr;
TfLiteTensor *g_input = nullptr;
TfLiteTensor *g_output = nullptr;
// The tensor arena holds every tensor TFLM allocates; kTensorArenaSize (model.h) says how it
// was sized. setup() prints what this board really used.
alignas(16) uint8_t g_arena[kTensorArenaSize];
uint8_t g_digit = 0;
uint8_t g_pass = 0;
uint8_t g_right = 0;
}  // namespace

{{DISPLAY}}

// Run the stored cases once and compare every output code with the one TFLM's reference
// kernels gave. A board's TFLM may run other kernels (the ESP32's use ESP-NN): the classes it
// prints are only worth reading if this passes.
bool self_test() {
  for (int c = 0; c < MODEL_SELF_TEST_CASES; ++c) {
    for (int i = 0; i < MODEL_SELF_TEST_INPUTS; ++i) {
      g_input->data.int8[i] = model_self_test_inputs[c * MODEL_SELF_TEST_INPUTS + i];
    }
    if (g_interpreter->Invoke() != kTfLiteOk) {
      Serial.printf("self-test: Invoke() failed at case %d\n", c + 1);
      return false;
    }
    for (int o = 0; o < MODEL_SELF_TEST_OUTPUTS; ++o) {
      int got = g_output->data.int8[o];
      int want = model_self_test_outputs[c * MODEL_SELF_TEST_OUTPUTS + o];
      if (got != want) {
        Serial.printf("self-test: FAILED at case %d of %d, output %d: got %d, expected %d\n",
                      c + 1, MODEL_SELF_TEST_CASES, o, got, want);
#if defined(ESP_ARDUINO_VERSION_MAJOR)
        Serial.printf("self-test: this core's TFLite Micro (arduino-esp32 %d.%d.%d) computes the "
                      "model differently from TFLM's reference kernels\n",
                      ESP_ARDUINO_VERSION_MAJOR, ESP_ARDUINO_VERSION_MINOR,
                      ESP_ARDUINO_VERSION_PATCH);
#endif
        Serial.println("self-test: the ESP32's TFLite Micro runs Espressif's ESP-NN kernels, "
                       "which may round differently; esp-tflite-micro before 1.3.4 gets "
                       "per-channel Dense layers wrong (README.md)");
        return false;
      }
    }
  }
  Serial.printf("self-test: ok (%d/%d)\n", MODEL_SELF_TEST_CASES, MODEL_SELF_TEST_CASES);
  return true;
}

void setup() {
  Serial.begin(115200);
  g_display.begin();  // initialize, clear, switch on
  g_display.setFont(u8x8_font_chroma48medium8_r);

  const tflite::Model *model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    Serial.printf("model schema %lu, this TFLM expects %d\n", (unsigned long)model->version(),
                  TFLITE_SCHEMA_VERSION);
    return;
  }
  // Register only the operators the model uses (tflm_ops.h lists them).
  static tflite::MicroMutableOpResolver<TFLM_OP_COUNT> resolver;
  if (!TFLM_ADD_OPS(&resolver)) {
    Serial.println("could not register the model's operators");
    return;
  }
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    Serial.printf("AllocateTensors() failed: %d bytes of arena are too few for this TFLM "
                  "build; enlarge g_arena\n", kTensorArenaSize);
    return;
  }
  g_input = interpreter.input(0);
  g_output = interpreter.output(0);
  if (g_input->type != kTfLiteInt8 || g_input->bytes != (size_t)DIGITS_SAMPLE_PIXELS ||
      g_output->type != kTfLiteInt8 || g_output->bytes != (size_t)MODEL_SELF_TEST_OUTPUTS) {
    Serial.println("the model does not take 8x8 int8 digits: regenerate the project");
    return;
  }
  g_interpreter = &interpreter;
  Serial.printf("{{PROJECT}}: %d-byte model, arena %d bytes, %u used\n", g_model_len,
                kTensorArenaSize, (unsigned)interpreter.arena_used_bytes());
  self_test();  // on failure the sketch still runs, so that the wrong numbers can be seen
}

void loop() {
  if (g_interpreter == nullptr) {  // setup() failed and said why
    delay(1000);
    return;
  }
  // A copy for the display: TFLM may reuse the input tensor's memory during Invoke().
  int8_t pixels[DIGITS_SAMPLE_PIXELS];
  for (int i = 0; i < DIGITS_SAMPLE_PIXELS; ++i) {
    pixels[i] = DIGITS_SAMPLE_READ(&kDigitCodes[g_digit][i]);
    g_input->data.int8[i] = pixels[i];
  }
  unsigned long start = micros();
  TfLiteStatus status = g_interpreter->Invoke();
  unsigned long us = micros() - start;
  if (status != kTfLiteOk) {
    Serial.printf("Invoke() failed on digit %d\n", g_digit);
    return;
  }

  const int8_t *outputs = g_output->data.int8;
  uint8_t label = (uint8_t)DIGITS_SAMPLE_READ(&kDigitLabels[g_digit]);
  uint8_t cls = top_class(outputs, (uint8_t)g_output->bytes);
  uint16_t permille = confidence_permille(outputs[cls], g_output->params.scale,
                                          g_output->params.zero_point);
  g_right += (cls == label);
  print_result(g_digit, label, cls, permille, us);
  draw_digit(pixels, g_input->params.scale, g_input->params.zero_point);
  draw_result(label, cls, permille);

  delay(TINYML_DELAY_MS);
  if (++g_digit == DIGITS_SAMPLES) {
    print_pass(g_pass + 1, g_right, DIGITS_SAMPLES);
    g_digit = 0;
    g_right = 0;
    ++g_pass;
  }
}
