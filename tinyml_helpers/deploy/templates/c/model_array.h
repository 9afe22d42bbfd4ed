{{BANNER}}
#ifndef {{GUARD}}
#define {{GUARD}}

extern const unsigned char {{NAME}}[];
extern const int {{NAME}}_len;
{{ARENA}}
#endif  // {{GUARD}}
