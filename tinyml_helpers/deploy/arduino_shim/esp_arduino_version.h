/* esp_arduino_version.h: the arduino-esp32 core's version macros, for the Arduino stand-in.
 * Part of the TinyML course (tinyml_helpers/deploy/arduino_shim). Defaults to the core the
 * course pins (3.3.7); -DESP_ARDUINO_VERSION_MAJOR=4 pretends to be a core without the
 * "TFLite Micro" library. */
#ifndef TINYML_ESP_ARDUINO_VERSION_H
#define TINYML_ESP_ARDUINO_VERSION_H

#ifndef ESP_ARDUINO_VERSION_MAJOR
#define ESP_ARDUINO_VERSION_MAJOR 3
#endif
#ifndef ESP_ARDUINO_VERSION_MINOR
#define ESP_ARDUINO_VERSION_MINOR 3
#endif
#ifndef ESP_ARDUINO_VERSION_PATCH
#define ESP_ARDUINO_VERSION_PATCH 7
#endif
#define ESP_ARDUINO_VERSION_VAL(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define ESP_ARDUINO_VERSION                                                                        \
  ESP_ARDUINO_VERSION_VAL(ESP_ARDUINO_VERSION_MAJOR, ESP_ARDUINO_VERSION_MINOR,                    \
                          ESP_ARDUINO_VERSION_PATCH)

#endif /* TINYML_ESP_ARDUINO_VERSION_H */
