/* JWS ES256 and JWK: round trips and the refusals that keep QA safe. */
#include <openssl/evp.h>

#include "testutil.h"

static char *b64(const char *s)
{
	char *out = malloc(lpa_b64url_len(strlen(s)) + 1);

	lpa_b64url_encode((const uint8_t *)s, strlen(s), out);
	return out;
}

START_TEST(jws_round_trip)
{
	EVP_PKEY *k = NULL;
	char *jws = NULL, *kid = NULL;
	uint8_t *payload = NULL;
	size_t n = 0;

	ck_assert_int_eq(lpa_p256_generate(&k), 0);
	ck_assert_int_eq(lpa_jws_sign(k, "rec-1", "{\"v\":1}", 7, &jws), LPA_OK);
	ck_assert_int_eq(lpa_jws_verify(jws, k, &kid, &payload, &n), LPA_OK);
	ck_assert_str_eq(kid, "rec-1");
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq((char *)payload, "{\"v\":1}");
	free(payload);
	free(kid);
	free(jws);
	lpa_pkey_free(&k);
}
END_TEST

START_TEST(jws_rejects_tampering_and_other_key)
{
	EVP_PKEY *k = NULL, *other = NULL;
	char *jws = NULL;
	uint8_t *payload = NULL;
	size_t n;
	char *dot;

	ck_assert_int_eq(lpa_p256_generate(&k), 0);
	ck_assert_int_eq(lpa_p256_generate(&other), 0);
	ck_assert_int_eq(lpa_jws_sign(k, NULL, "{\"v\":1}", 7, &jws), LPA_OK);
	ck_assert_int_eq(lpa_jws_verify(jws, other, NULL, &payload, &n), LPA_ERR_SIGNATURE);
	dot = strchr(jws, '.');
	dot[1] = dot[1] == 'A' ? 'B' : 'A'; /* payload changed */
	ck_assert_int_eq(lpa_jws_verify(jws, k, NULL, &payload, &n), LPA_ERR_SIGNATURE);
	ck_assert_ptr_null(payload);
	free(jws);
	lpa_pkey_free(&k);
	lpa_pkey_free(&other);
}
END_TEST

/* "none" and HS256 headers are refused whatever follows. */
START_TEST(jws_rejects_other_algs)
{
	EVP_PKEY *k = NULL;
	uint8_t *payload = NULL;
	size_t n;
	char *h, buf[512];

	ck_assert_int_eq(lpa_p256_generate(&k), 0);
	h = b64("{\"alg\":\"none\"}");
	snprintf(buf, sizeof(buf), "%s.e30.", h);
	ck_assert_int_ne(lpa_jws_verify(buf, k, NULL, &payload, &n), LPA_OK);
	free(h);
	h = b64("{\"alg\":\"HS256\"}");
	snprintf(buf, sizeof(buf), "%s.e30.AAAA", h);
	ck_assert_int_eq(lpa_jws_verify(buf, k, NULL, &payload, &n), LPA_ERR_SIGNATURE);
	free(h);
	h = b64("{\"alg\":\"ES256\",\"crit\":[\"x\"]}");
	snprintf(buf, sizeof(buf), "%s.e30.AAAA", h);
	ck_assert_int_eq(lpa_jws_verify(buf, k, NULL, &payload, &n), LPA_ERR_ENCODING);
	free(h);
	ck_assert_int_eq(lpa_jws_verify("a.b", k, NULL, &payload, &n), LPA_ERR_ENCODING);
	ck_assert_int_eq(lpa_jws_verify("a.b.c.d", k, NULL, &payload, &n), LPA_ERR_ENCODING);
	ck_assert_ptr_null(payload);
	lpa_pkey_free(&k);
}
END_TEST

/* docs/protocols.md: typ is optional, but when present a string; lpa_jws_kid reads the
 * header's kid without a key (the verifier picks the key it names). */
START_TEST(jws_typ_must_be_a_string)
{
	EVP_PKEY *k = NULL;
	uint8_t *payload = NULL;
	size_t n;
	char *h, *kid = NULL, buf[512];

	ck_assert_int_eq(lpa_p256_generate(&k), 0);
	h = b64("{\"alg\":\"ES256\",\"typ\":5}");
	snprintf(buf, sizeof(buf), "%s.e30.AAAA", h);
	ck_assert_int_eq(lpa_jws_verify(buf, k, NULL, &payload, &n), LPA_ERR_ENCODING);
	ck_assert_int_eq(lpa_jws_kid(buf, &kid), LPA_ERR_ENCODING);
	free(h);
	h = b64("{\"alg\":\"ES256\",\"typ\":\"JOSE\",\"kid\":\"record-2\"}");
	snprintf(buf, sizeof(buf), "%s.e30.AAAA", h);
	ck_assert_int_eq(lpa_jws_kid(buf, &kid), LPA_OK);
	ck_assert_str_eq(kid, "record-2");
	free(kid);
	free(h);
	h = b64("{\"alg\":\"ES256\"}");
	snprintf(buf, sizeof(buf), "%s.e30.AAAA", h);
	ck_assert_int_eq(lpa_jws_kid(buf, &kid), LPA_OK);
	ck_assert_ptr_null(kid);
	free(h);
	lpa_pkey_free(&k);
}
END_TEST

/* The one name check (lot, station, operator): the KMS's alphabet, never a path. */
START_TEST(names_validated)
{
	ck_assert(lpa_name_valid("LOT-2026_a.1", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid(NULL, LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("../../outside/pwned", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("a b", LPA_NAME_MAX));
	ck_assert(!lpa_name_valid("x\",\"ok\":true", LPA_NAME_MAX));
	ck_assert(lpa_name_valid("aaaa", 4));
	ck_assert(!lpa_name_valid("aaaaa", 4));
}
END_TEST

START_TEST(jwk_round_trip)
{
	EVP_PKEY *k = NULL, *back = NULL;
	uint8_t a[65], b[65];
	char *json = NULL;

	ck_assert_int_eq(lpa_p256_generate(&k), 0);
	ck_assert_int_eq(lpa_jwk_from_p256(k, "pkg-1", &json), LPA_OK);
	ck_assert_ptr_nonnull(strstr(json, "\"crv\":\"P-256\""));
	ck_assert_ptr_null(strstr(json, "\"d\""));
	ck_assert_int_eq(lpa_jwk_to_p256(json, &back), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(k, a), 0);
	ck_assert_int_eq(lpa_p256_public_bytes(back, b), 0);
	ck_assert_mem_eq(a, b, 65);
	free(json);
	lpa_pkey_free(&k);
	lpa_pkey_free(&back);
}
END_TEST

START_TEST(jwk_rejects_malformed)
{
	EVP_PKEY *k = NULL;

	ck_assert_int_eq(lpa_jwk_to_p256("{", &k), LPA_ERR_KEY);
	ck_assert_int_eq(lpa_jwk_to_p256("{\"kty\":\"RSA\"}", &k), LPA_ERR_KEY);
	ck_assert_int_eq(
		lpa_jwk_to_p256("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}", &k),
		LPA_ERR_KEY);
	ck_assert_ptr_null(k);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(jws_round_trip),         TU_CASE(jws_rejects_tampering_and_other_key),
		TU_CASE(jws_rejects_other_algs), TU_CASE(jwk_round_trip),
		TU_CASE(jwk_rejects_malformed),  TU_CASE(jws_typ_must_be_a_string),
		TU_CASE(names_validated),
	};

	return tu_main("jws", cases, TU_N(cases));
}
