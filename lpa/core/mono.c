/* mono.c — the monotonic clock every timeout, deadline and measurement reads. */
#include <time.h>

#include "lpa/core/lpa-core.h"

/*
 * CLOCK_MONOTONIC, what every caller read before this file existed: it never steps when
 * the wall clock is set (a timeout must neither fire nor stretch on an NTP correction),
 * and NTP slews it, so a millisecond is a real one (_RAW is not slewed). It stops while
 * the machine is suspended, unlike _BOOTTIME; nothing here times across a suspend.
 * Linux cannot fail the call for this clock, so there is no error to return.
 */
uint64_t lpa_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lpa_mono_ms(void)
{
	return lpa_mono_ns() / 1000000u;
}

/* A double holds the nanoseconds exactly for 104 days of uptime, to 2 ns after. */
double lpa_mono_s(void)
{
	return (double)lpa_mono_ns() / 1e9;
}

int64_t lpa_mono_left_ms(uint64_t deadline_ms)
{
	uint64_t now = lpa_mono_ms();

	return now <= deadline_ms ? (int64_t)(deadline_ms - now) : -(int64_t)(now - deadline_ms);
}
