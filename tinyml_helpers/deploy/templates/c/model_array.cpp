{{BANNER}}
#include "{{HEADER}}"

// alignas(16): TFLM reads the flatbuffer in place and expects aligned data.
alignas(16) const unsigned char {{NAME}}[] = {
{{BYTES}}
};
const int {{NAME}}_len = {{LENGTH}};
