{{BANNER}}

#include "{{PREFIX}}.h"
#include "tinyml_kernels.h"

{{LAYERS}}
void {{PREFIX}}_invoke(const {{CTYPE}} *input, {{CTYPE}} *output) {
  {{CTYPE}} buf0[{{WIDEST}}], buf1[{{WIDEST}}];
  (void)buf0;
  (void)buf1;
{{CALLS}}
}
