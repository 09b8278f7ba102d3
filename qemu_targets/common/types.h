/* Basic freestanding types shared by both kernels. */
#ifndef TYPES_H
#define TYPES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Native register width: unsigned long is 64 bits on x86_64 (LP64) and
 * 32 bits on i386 (ILP32), so one type serves both kernels for addresses,
 * register values and frame fields.
 */
typedef unsigned long ureg_t;

/* The error-code parameter type GCC demands for __attribute__((interrupt)). */
typedef unsigned int uword_t __attribute__((mode(__word__)));

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

#endif
