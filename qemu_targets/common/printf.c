/* Formatting engine behind kprintf (serial) and ksnprintf (buffer). */
#include "printf.h"
#include "serial.h"
#include "string.h"

struct sink {
	char *buf; /* NULL: serial */
	size_t len, cap;
};

static void put(struct sink *s, char c)
{
	if (!s->buf) {
		serial_putc(c);
		return;
	}
	if (s->len + 1 < s->cap)
		s->buf[s->len++] = c;
}

static void put_padding(struct sink *s, char c, int n)
{
	while (n-- > 0)
		put(s, c);
}

static void put_field(struct sink *s, const char *prefix, const char *body,
		      int body_len, int width, int zero_pad, int left)
{
	int len = (int)strlen(prefix) + body_len;
	if (!left && !zero_pad)
		put_padding(s, ' ', width - len);
	while (*prefix)
		put(s, *prefix++);
	if (!left && zero_pad)
		put_padding(s, '0', width - len);
	while (body_len--)
		put(s, *body++);
	if (left)
		put_padding(s, ' ', width - len);
}

static int to_digits(char *out, unsigned long v, unsigned base, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[3 * sizeof(v)];
	int n = 0, i;
	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	char num[3 * sizeof(unsigned long)];

	for (; *fmt; fmt++) {
		int zero_pad = 0, alt = 0, left = 0, is_long = 0, width = 0;

		if (*fmt != '%') {
			put(s, *fmt);
			continue;
		}
		for (fmt++;; fmt++) {
			if (*fmt == '0')
				zero_pad = 1;
			else if (*fmt == '#')
				alt = 1;
			else if (*fmt == '-')
				left = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			is_long = 1;
			fmt++;
		}

		switch (*fmt) {
		case 'd':
		case 'i': {
			long v = is_long ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long mag = v < 0 ? -(unsigned long)v : (unsigned long)v;
			int n = to_digits(num, mag, 10, 0);
			put_field(s, v < 0 ? "-" : "", num, n, width, zero_pad, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			unsigned long v = is_long ? va_arg(ap, unsigned long)
						  : va_arg(ap, unsigned int);
			unsigned base = *fmt == 'u' ? 10 : 16;
			int n = to_digits(num, v, base, *fmt == 'X');
			put_field(s, alt && base == 16 ? "0x" : "", num, n, width,
				  zero_pad, left);
			break;
		}
		case 'p': {
			unsigned long v = (unsigned long)va_arg(ap, void *);
			int n = to_digits(num, v, 16, 0);
			put_field(s, "0x", num, n, 2 + 2 * (int)sizeof(v), 1, 0);
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			put_field(s, "", str, (int)strlen(str), width, 0, left);
			break;
		}
		case 'c':
			put(s, (char)va_arg(ap, int));
			break;
		case '%':
			put(s, '%');
			break;
		case '\0':
			return;
		default: /* unknown conversion: show it rather than guess */
			put(s, '%');
			put(s, *fmt);
			break;
		}
	}
}

void kvprintf(const char *fmt, va_list ap)
{
	struct sink s = { 0 };
	format(&s, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

void kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { buf, 0, size };
	if (!size)
		return;
	format(&s, fmt, ap);
	buf[s.len] = '\0';
}

void ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
}
