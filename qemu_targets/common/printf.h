/*
 * Minimal printf: %d %i %u %x %X %p %s %c %%, flags '0' '#' '-', a width,
 * and 'l'/'z' length modifiers (both mean native word; nothing wider is
 * supported, which keeps i386 free of 64-bit division).
 */
#ifndef PRINTF_H
#define PRINTF_H

#include "types.h"

void kprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
void kvprintf(const char *fmt, va_list ap);
void ksnprintf(char *buf, size_t size, const char *fmt, ...) PRINTF_LIKE(3, 4);
void kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

#endif
