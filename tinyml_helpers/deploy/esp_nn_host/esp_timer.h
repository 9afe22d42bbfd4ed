/* esp_timer.h: a stand-in for ESP-IDF's timer header, enough to compile esp-tflite-micro's
 * ESP-NN kernels for a PC or a Cortex-M4F. The kernels only time themselves with it (a
 * profiling counter nothing reads), so a clock that always says 0 changes no result.
 *
 * Part of the TinyML course (tinyml_helpers/deploy/esp_nn_host), used by
 * tinyml_helpers.deploy.esp_nn.
 */
#ifndef TINYML_ESP_TIMER_STANDIN_H
#define TINYML_ESP_TIMER_STANDIN_H

#include <stdint.h>

static inline int64_t esp_timer_get_time(void) { return 0; }

#endif /* TINYML_ESP_TIMER_STANDIN_H */
