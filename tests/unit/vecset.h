/*
 * vecset.h — the worked vectors of docs/protocols.md as the tests read them: lines
 * "name = hex", continued on indented hex-only lines (the format tests/unit/test-vectors
 * --generate writes). Shared by the core's test-vectors and the agent's test-vectors and
 * test-fw-lorawan, so that all three read the document the same way; the values come
 * from the document, never from the code under test.
 */
#ifndef LPA_TESTS_VECSET_H
#define LPA_TESTS_VECSET_H

#include <ctype.h>
#include <stdio.h>

#include "testutil.h"

#define VEC_MAX 128 /* docs/protocols.md has 59 names with the LoRaWAN vectors */
#define VEC_LEN 512

struct vec {
	char name[40];
	uint8_t val[VEC_LEN];
	size_t len;
};

struct vecset {
	struct vec v[VEC_MAX];
	size_t n;
};

static inline struct vec *vec_find(struct vecset *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

/* Appends the hex digits of one line to v; returns 0 if the line is not pure hex. */
static inline int vec_append_hex(struct vec *v, const char *p)
{
	while (*p != '\0' && !isspace((unsigned char)*p)) {
		uint8_t b;

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    v->len >= VEC_LEN || lpa_hex_decode(p, 2, &b, 1) != LPA_OK)
			return 0;
		v->val[v->len++] = b;
		p += 2;
	}
	while (isspace((unsigned char)*p))
		p++;
	return *p == '\0';
}

/* Appends every vector in the document at path to s (a name may repeat: vec_find
 * answers the first). A "name =" line that is not hex fails the test. */
static inline void vec_load(const char *path, struct vecset *s)
{
	FILE *f = fopen(path, "r");
	char line[512];
	struct vec *open = NULL;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char name[40];
		int off = 0;

		if (sscanf(line, "%39[a-z0-9_] = %n", name, &off) == 1 && off > 0) {
			ck_assert_uint_lt(s->n, VEC_MAX);
			open = &s->v[s->n++];
			snprintf(open->name, sizeof(open->name), "%s", name);
			open->len = 0;
			ck_assert_msg(vec_append_hex(open, line + off), "bad hex for %s", name);
		} else if (open != NULL && line[0] == ' ' &&
			   vec_append_hex(open, line + strspn(line, " "))) {
			continue;
		} else {
			open = NULL;
		}
	}
	fclose(f);
}

#endif
