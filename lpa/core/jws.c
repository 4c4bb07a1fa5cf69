/*
 * jws.c — JWS compact serialisation with ES256 only (RFC 7515/7518) and P-256 JWKs.
 * Manifest records are JWS; QA pins the KMS keys as JWKs. Anything but ES256 is refused:
 * accepting "none" or an HMAC alg is the classic JWS downgrade.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core-private.h"

#define JWS_MAX_HEADER 1024
#define JWS_MAX_PAYLOAD (64 * 1024)

static char *jws_b64(const uint8_t *data, size_t len)
{
	char *s = malloc(lpa_b64url_len(len) + 1);

	if (s != NULL)
		lpa_b64url_encode(data, len, s);
	return s;
}

static int jws_p256_sign(void *key, const void *msg, size_t len, uint8_t sig[LPA_P256_SIG_LEN])
{
	return lpa_p256_sign(key, msg, len, sig);
}

int lpa_jws_sign(EVP_PKEY *key, const char *kid, const void *payload, size_t len, char **jws)
{
	return lpa_jws_sign_with(jws_p256_sign, key, kid, payload, len, jws);
}

int lpa_jws_sign_with(lpa_p256_signer sign, void *ctx, const char *kid, const void *payload,
		      size_t len, char **jws)
{
	json_t *hdr = NULL;
	char *hdr_json = NULL, *h64 = NULL, *p64 = NULL, *out = NULL;
	uint8_t sig[LPA_P256_SIG_LEN];
	char s64[90];
	size_t hl, pl;
	int r = LPA_ERR_NOMEM;

	*jws = NULL;
	if (len > JWS_MAX_PAYLOAD)
		return LPA_ERR_LENGTH;
	if ((hdr = json_object()) == NULL ||
	    json_object_set_new(hdr, "alg", json_string("ES256")) != 0 ||
	    (kid != NULL && json_object_set_new(hdr, "kid", json_string(kid)) != 0) ||
	    (hdr_json = json_dumps(hdr, JSON_COMPACT)) == NULL ||
	    (h64 = jws_b64((const uint8_t *)hdr_json, strlen(hdr_json))) == NULL ||
	    (p64 = jws_b64(payload, len)) == NULL)
		goto fail;
	hl = strlen(h64);
	pl = strlen(p64);
	if ((out = malloc(hl + pl + sizeof(s64) + 3)) == NULL)
		goto fail;
	memcpy(out, h64, hl);
	out[hl] = '.';
	memcpy(out + hl + 1, p64, pl);
	if ((r = sign(ctx, out, hl + 1 + pl, sig)) != LPA_OK)
		goto fail;
	lpa_b64url_encode(sig, sizeof(sig), s64);
	out[hl + 1 + pl] = '.';
	strcpy(out + hl + pl + 2, s64);
	*jws = out;
	out = NULL;
	r = LPA_OK;
fail:
	free(out);
	free(p64);
	free(h64);
	free(hdr_json);
	json_decref(hdr);
	return r;
}

/* The protected header: only {"alg":"ES256"} and an optional string kid. */
static int jws_header(const char *h64, size_t len, char **kid)
{
	uint8_t raw[JWS_MAX_HEADER];
	size_t n = 0;
	json_t *hdr = NULL, *alg, *k;
	const char *name;
	json_t *v;
	int r = LPA_ERR_ENCODING;

	if (lpa_b64url_decode(h64, len, raw, sizeof(raw), &n) != LPA_OK)
		return LPA_ERR_ENCODING;
	if ((hdr = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(hdr))
		goto fail;
	alg = json_object_get(hdr, "alg");
	if (!json_is_string(alg) || strcmp(json_string_value(alg), "ES256") != 0) {
		r = LPA_ERR_SIGNATURE;
		goto fail;
	}
	/* Unknown members (crit, jku, x5u, ...) could change the meaning; refuse them. */
	json_object_foreach(hdr, name, v)
	{
		if (strcmp(name, "alg") != 0 && strcmp(name, "kid") != 0 &&
		    strcmp(name, "typ") != 0)
			goto fail;
	}
	k = json_object_get(hdr, "kid");
	if (k != NULL && !json_is_string(k))
		goto fail;
	/* typ is informational (RFC 7515 4.1.9), but a non-string is malformed. */
	if (json_object_get(hdr, "typ") != NULL && !json_is_string(json_object_get(hdr, "typ")))
		goto fail;
	if (kid != NULL) {
		*kid = k != NULL ? strdup(json_string_value(k)) : NULL;
		if (k != NULL && *kid == NULL) {
			r = LPA_ERR_NOMEM;
			goto fail;
		}
	}
	r = LPA_OK;
fail:
	json_decref(hdr);
	return r;
}

int lpa_jws_kid(const char *jws, char **kid)
{
	const char *d1;

	*kid = NULL;
	if (jws == NULL)
		return LPA_ERR_INVAL;
	if ((d1 = strchr(jws, '.')) == NULL)
		return LPA_ERR_ENCODING;
	return jws_header(jws, (size_t)(d1 - jws), kid);
}

int lpa_jws_verify(const char *jws, const EVP_PKEY *key, char **kid, uint8_t **payload,
		   size_t *payload_len)
{
	const char *d1, *d2, *end;
	uint8_t sig[LPA_P256_SIG_LEN + 1], *p = NULL;
	size_t n = 0, plen = 0;
	char *k = NULL;
	int r;

	*payload = NULL;
	*payload_len = 0;
	if (kid != NULL)
		*kid = NULL;
	if (jws == NULL)
		return LPA_ERR_INVAL;
	end = jws + strlen(jws);
	if ((d1 = strchr(jws, '.')) == NULL || (d2 = strchr(d1 + 1, '.')) == NULL ||
	    strchr(d2 + 1, '.') != NULL)
		return LPA_ERR_ENCODING;
	if ((size_t)(d2 - d1 - 1) > lpa_b64url_len(JWS_MAX_PAYLOAD))
		return LPA_ERR_LENGTH;
	if ((r = jws_header(jws, (size_t)(d1 - jws), kid != NULL ? &k : NULL)) != LPA_OK)
		return r;
	if ((r = lpa_b64url_decode(d2 + 1, (size_t)(end - d2 - 1), sig, sizeof(sig), &n)) !=
	    LPA_OK) {
		r = LPA_ERR_ENCODING;
		goto fail;
	}
	if (n != LPA_P256_SIG_LEN) {
		r = LPA_ERR_SIGNATURE;
		goto fail;
	}
	if ((r = lpa_p256_verify(key, jws, (size_t)(d2 - jws), sig)) != LPA_OK)
		goto fail;
	if ((p = malloc(JWS_MAX_PAYLOAD + 1)) == NULL) {
		r = LPA_ERR_NOMEM;
		goto fail;
	}
	if ((r = lpa_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), p, JWS_MAX_PAYLOAD, &plen)) !=
	    LPA_OK) {
		r = LPA_ERR_ENCODING;
		goto fail;
	}
	p[plen] = '\0';
	*payload = p;
	*payload_len = plen;
	if (kid != NULL)
		*kid = k;
	p = NULL;
	k = NULL;
	r = LPA_OK;
fail:
	free(p);
	free(k);
	return r;
}

int lpa_jwk_from_p256(const EVP_PKEY *key, const char *kid, char **json)
{
	uint8_t pub[LPA_P256_PUB_LEN];
	char x[44], y[44];
	json_t *o = NULL;
	int r;

	*json = NULL;
	if ((r = lpa_p256_public_bytes(key, pub)) != LPA_OK)
		return r;
	lpa_b64url_encode(pub + 1, 32, x);
	lpa_b64url_encode(pub + 33, 32, y);
	r = LPA_ERR_NOMEM;
	if ((o = json_object()) == NULL || json_object_set_new(o, "kty", json_string("EC")) != 0 ||
	    json_object_set_new(o, "crv", json_string("P-256")) != 0 ||
	    json_object_set_new(o, "x", json_string(x)) != 0 ||
	    json_object_set_new(o, "y", json_string(y)) != 0 ||
	    (kid != NULL && json_object_set_new(o, "kid", json_string(kid)) != 0) ||
	    (*json = json_dumps(o, JSON_COMPACT)) == NULL)
		goto fail;
	r = LPA_OK;
fail:
	json_decref(o);
	return r;
}

static int jwk_coord(json_t *o, const char *name, uint8_t out[32])
{
	json_t *v = json_object_get(o, name);
	size_t n = 0;

	if (!json_is_string(v) ||
	    lpa_b64url_decode(json_string_value(v), json_string_length(v), out, 32, &n) != LPA_OK ||
	    n != 32)
		return LPA_ERR_KEY;
	return LPA_OK;
}

int lpa_jwk_to_p256(const char *json, EVP_PKEY **key)
{
	json_t *o = NULL, *kty, *crv;
	uint8_t pub[LPA_P256_PUB_LEN];
	int r = LPA_ERR_KEY;

	*key = NULL;
	if ((o = json_loads(json, JSON_REJECT_DUPLICATES, NULL)) == NULL || !json_is_object(o))
		goto fail;
	kty = json_object_get(o, "kty");
	crv = json_object_get(o, "crv");
	if (!json_is_string(kty) || strcmp(json_string_value(kty), "EC") != 0 ||
	    !json_is_string(crv) || strcmp(json_string_value(crv), "P-256") != 0)
		goto fail;
	/* A private "d" in a pinned public key file is a mistake worth refusing. */
	if (json_object_get(o, "d") != NULL)
		goto fail;
	pub[0] = 0x04;
	if (jwk_coord(o, "x", pub + 1) != LPA_OK || jwk_coord(o, "y", pub + 33) != LPA_OK)
		goto fail;
	r = lpa_p256_from_public(pub, key);
fail:
	json_decref(o);
	return r;
}
