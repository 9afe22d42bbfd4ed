
/* Quantization of the input and output: real = scale * (code - zero_point). */
#define {{UP}}_INPUT_SCALE {{INPUT_SCALE}}
#define {{UP}}_INPUT_ZERO_POINT {{INPUT_ZERO_POINT}}
#define {{UP}}_OUTPUT_SCALE {{OUTPUT_SCALE}}
#define {{UP}}_OUTPUT_ZERO_POINT {{OUTPUT_ZERO_POINT}}
