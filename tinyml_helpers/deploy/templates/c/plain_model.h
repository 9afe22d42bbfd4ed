{{BANNER}}
#ifndef {{GUARD}}
#define {{GUARD}}

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define {{UP}}_INPUTS {{N_IN}}
#define {{UP}}_OUTPUTS {{N_OUT}}
{{QUANTIZATION}}
/* Run the {{KIND}} network once: input[{{UP}}_INPUTS] -> output[{{UP}}_OUTPUTS]. */
void {{PREFIX}}_invoke(const {{CTYPE}} *input, {{CTYPE}} *output);

#ifdef __cplusplus
}
#endif

#endif /* {{GUARD}} */
