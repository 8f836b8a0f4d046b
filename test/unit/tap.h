/*
 * tap.h
 *		The few lines of TAP the kernel unit tests print: one "ok N - what" or
 *		"not ok N - what" per check, the plan at the end, exit status 1 when a
 *		check failed.  Each test program includes it once.
 */
#ifndef ANTARES_TAP_H
#define ANTARES_TAP_H

#include <stdio.h>

static int	tap_checks = 0;
static int	tap_failures = 0;

static void
check(int ok, const char *what)
{
	tap_checks++;
	if (!ok)
		tap_failures++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", tap_checks, what);
}

/* Prints the plan; the exit status of main. */
static int
tap_done(void)
{
	printf("1..%d\n", tap_checks);
	return tap_failures != 0;
}

#endif							/* ANTARES_TAP_H */
