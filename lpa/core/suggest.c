/*
 * suggest.c — "did you mean": the candidate closest to a mistyped word (commands,
 * options, configuration keys), by edit distance.
 */
#include <string.h>

#include "lpa-core.h"

#define SUGGEST_MAX 64 /* longer words are not compared */

/* Levenshtein distance with adjacent transpositions (a typo swaps two letters). */
static size_t suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];

	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *lpa_suggest(const char *word, const char *const *words, size_t n)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, len = strlen(word);
	/* Two edits for a word of six letters or more, one for shorter ones: closer than
	 * that, and a suggestion is a guess. */
	size_t limit = len >= 6 ? 2 : 1;

	for (size_t i = 0; i < n; i++) {
		size_t d = suggest_distance(word, words[i]);

		if (d < best_d) {
			best_d = d;
			best = words[i];
		}
	}
	return best_d <= limit && best_d > 0 ? best : NULL;
}
