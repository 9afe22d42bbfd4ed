{{BANNER}}
// {{PROJECT}}: the same sine model run by TensorFlow Lite Micro, which interprets the .tflite
// flatbuffer stored as a C array in model.cpp. Board: ESP32 with the arduino-esp32 core 3.x,
// whose built-in "TFLite Micro" library provides the headers below (see README.md).
//
// At start it checks itself: the model runs on a few inputs whose outputs TensorFlow Lite
// Micro's reference kernels computed when the project was generated (model_self_test.h), and
// it prints "self-test: ok (N/N)" or the first difference. Then every step it feeds one x of
// [0, 2*pi) to the model, prints
//   x=..., y=..., sin=..., us=...
// on Serial at 115200 baud, and fades an LED on GPIO {{LED_PIN}} by the prediction y.

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

#include <math.h>

#include "model.h"
#include "model_self_test.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

const int kLedPin = {{LED_PIN}};
const int kSteps = {{STEPS}};  // x values per period, as in the TensorFlow Lite Micro hello_world
const float kXRange = 2.0f * (float)M_PI;  // the model was trained on x in [0, 2*pi]

namespace {
tflite::MicroInterpreter *g_interpreter = nullptr;
TfLiteTensor *g_input = nullptr;
TfLiteTensor *g_output = nullptr;
// The tensor arena holds every tensor TFLM allocates. kTensorArenaSize (model.h) is the
// smallest arena this model runs with, measured (model.h says on what: pointers are 4 bytes
// on a 32-bit board and 8 on a PC, so the number depends on it); setup() prints what this
// board really used.
alignas(16) uint8_t g_arena[kTensorArenaSize];
int g_step = 0;
}  // namespace

// Run the embedded cases once and compare every output code with the one TFLM's reference
// kernels gave. A board's TFLM may run other kernels (the ESP32's use ESP-NN): the numbers it
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
        Serial.println("self-test: esp-tflite-micro before 1.3.4 gets per-channel Dense layers "
                       "wrong on ESP-NN: use a model with per-tensor Dense quantization or a "
                       "newer core (README.md)");
        return false;
      }
    }
  }
  Serial.printf("self-test: ok (%d/%d)\n", MODEL_SELF_TEST_CASES, MODEL_SELF_TEST_CASES);
  return true;
}

void setup() {
  Serial.begin(115200);
  pinMode(kLedPin, OUTPUT);

  const tflite::Model *model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    Serial.printf("model schema %lu, this TFLM expects %d\n", (unsigned long)model->version(),
                  TFLITE_SCHEMA_VERSION);
    return;
  }
  // Register only the operator the model uses: FULLY_CONNECTED (its three Dense layers).
  static tflite::MicroMutableOpResolver<1> resolver;
  if (resolver.AddFullyConnected() != kTfLiteOk) {
    Serial.println("could not register FULLY_CONNECTED");
    return;
  }
  static tflite::MicroInterpreter interpreter(model, resolver, g_arena, kTensorArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    Serial.printf("AllocateTensors() failed: %d bytes of arena are too few for this TFLM "
                  "build; enlarge g_arena\n", kTensorArenaSize);
    return;
  }
  g_interpreter = &interpreter;
  g_input = interpreter.input(0);
  g_output = interpreter.output(0);
  Serial.printf("{{PROJECT}}: %d-byte model, arena %d bytes, %u used\n", g_model_len,
                kTensorArenaSize, (unsigned)interpreter.arena_used_bytes());
  self_test();  // on failure the sketch still runs, so that the wrong numbers can be seen
}

void loop() {
  if (g_interpreter == nullptr) {  // setup() failed and said why
    delay(1000);
    return;
  }
  float x = kXRange * g_step / kSteps;

  // An int8 model takes quantized input: code = round(x / scale) + zero_point.
  if (g_input->type == kTfLiteInt8) {
    long code = lroundf(x / g_input->params.scale) + g_input->params.zero_point;
    g_input->data.int8[0] = (int8_t)constrain(code, -128L, 127L);
  } else {
    g_input->data.f[0] = x;
  }

  unsigned long start = micros();
  TfLiteStatus status = g_interpreter->Invoke();
  unsigned long us = micros() - start;
  if (status != kTfLiteOk) {
    Serial.printf("Invoke() failed on x=%.3f\n", x);
    return;
  }

  // Dequantize an int8 output: y = scale * (code - zero_point).
  float y = g_output->type == kTfLiteInt8
                ? g_output->params.scale * (g_output->data.int8[0] - g_output->params.zero_point)
                : g_output->data.f[0];
  Serial.printf("x=%.3f, y=%.3f, sin=%.3f, us=%lu\n", x, y, sinf(x), us);

  // Fade the LED: y in [-1, 1] -> duty cycle 0..255.
  analogWrite(kLedPin, (int)constrain((y + 1.0f) * 127.5f, 0.0f, 255.0f));

  delay({{DELAY_MS}});
  g_step = (g_step + 1) % kSteps;
}
