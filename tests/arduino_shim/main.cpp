/* The Arduino runtime's main(), for the host shim: setup() once, then loop() forever. */
#include "Arduino.h"

void setup();
void loop();

int main() {
  setup();
  for (;;) loop();
}
