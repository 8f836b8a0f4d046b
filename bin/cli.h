/*
 * cli.h
 *		What every program in bin/ shares: messages that end it, memory that
 *		is never NULL, a growable buffer, the monotonic clock.
 *
 * Each program defines `const char progname[]`, its name in messages.
 * Exit statuses are the programs' own: 1 a failure (running out of memory
 * is one), 2 bad options or input.
 */
#ifndef ANTARES_CLI_H
#define ANTARES_CLI_H

#include <stddef.h>

extern const char progname[];

/* "progname: message" on stderr, then exit(status). */
extern void die(int status, const char *fmt,...)
			__attribute__((format(printf, 2, 3), noreturn));

/* "progname: message" and where to find the usage, then exit(2). */
extern void bad_usage(const char *fmt,...)
			__attribute__((format(printf, 1, 2), noreturn));

extern void *xmalloc(size_t n);
extern void *xrealloc(void *p, size_t n);
extern char *xstrdup(const char *s);
extern char *xasprintf(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer. */
typedef struct Buffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buffer;

extern void buf_reserve(Buffer *b, size_t more);
extern void buf_append(Buffer *b, const char *s, size_t n);

/* CLOCK_MONOTONIC in seconds. */
extern double now_seconds(void);

#endif							/* ANTARES_CLI_H */
