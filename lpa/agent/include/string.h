/*
 * string.h — the firmware's own: it links no libc (Debian's gcc-arm-none-eabi ships
 * none), and mem.c defines these four. Only the firmware build has this directory on
 * its include path; the host build uses the C library's <string.h>.
 */
#ifndef LPA_AGENT_STRING_H
#define LPA_AGENT_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
