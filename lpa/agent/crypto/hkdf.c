/* hkdf.c — HKDF-SHA256 (RFC 5869): extract, then expand. */
#include "ct-private.h"

int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	struct hmac_sha256 c;
	uint8_t prk[SHA256_LEN], t[SHA256_LEN];
	size_t done = 0;
	uint8_t i = 0;

	if (out_len > 255 * SHA256_LEN) {
		ct_wipe(out, out_len);
		return CRYPTO_ERR_LENGTH;
	}
	/* Extract: PRK = HMAC(salt, IKM). An absent salt is HashLen zero bytes, which
	 * HMAC's zero padding makes the same key as the empty one. */
	hmac_sha256(salt, salt != NULL ? salt_len : 0, ikm, ikm_len, prk);
	/* Expand: T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty. */
	while (done < out_len) {
		size_t n = out_len - done < SHA256_LEN ? out_len - done : SHA256_LEN;

		i++;
		hmac_sha256_init(&c, prk, sizeof(prk));
		if (i > 1)
			hmac_sha256_update(&c, t, sizeof(t));
		hmac_sha256_update(&c, info, info != NULL ? info_len : 0);
		hmac_sha256_update(&c, &i, 1);
		hmac_sha256_final(&c, t);
		ct_memcpy(out + done, t, n);
		done += n;
	}
	ct_wipe(prk, sizeof(prk));
	ct_wipe(t, sizeof(t));
	return CRYPTO_OK;
}
