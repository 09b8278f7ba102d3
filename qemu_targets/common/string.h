/* The few libc string routines the kernels (and GCC's codegen) need. */
#ifndef STRING_H
#define STRING_H

#include "types.h"

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* Copies at most size-1 chars and always terminates (size > 0). */
size_t strlcpy(char *dst, const char *src, size_t size);

#endif
