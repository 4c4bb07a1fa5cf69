/*
 * crypto.h — the secure agent's own cryptography (lpa/agent/crypto): small, portable,
 * constant-time C11 that builds twice from the same sources — for the host, where the
 * tests prove it against OpenSSL, and for the Cortex-M0+ (ARMv6-M), where it ships.
 *
 * Rules for every file here: no dynamic memory, no libc beyond <stdint.h>/<stddef.h>
 * types (the firmware has no libc; ct.c provides the few helpers needed), no
 * secret-dependent branches or memory addresses. Functions return 0 (CRYPTO_OK) or a
 * negative CRYPTO_ERR_* code; outputs come last. Byte strings are big-endian unless a
 * LoRaWAN field says otherwise. A function that fails leaves its secret outputs zeroed.
 */
#ifndef LPA_AGENT_CRYPTO_H
#define LPA_AGENT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ errors */
enum crypto_err {
	CRYPTO_OK = 0,
	CRYPTO_ERR_LENGTH = -1,    /* an input has the wrong (or an unsupported) length */
	CRYPTO_ERR_POINT = -2,     /* a point is not on the curve */
	CRYPTO_ERR_RANGE = -3,     /* a coordinate is >= p, or a private scalar not in [1,n-1] */
	CRYPTO_ERR_IDENTITY = -4,  /* the point at infinity where a real point is required */
	CRYPTO_ERR_ENCODING = -5,  /* a point encoding that is not 0x04 || X || Y */
	CRYPTO_ERR_SIG_RANGE = -6, /* r or s is 0 or >= n */
	CRYPTO_ERR_SIGNATURE = -7, /* a well-formed signature that does not verify */
	CRYPTO_ERR_TAG = -8,       /* GCM tag / CMAC / MIC mismatch (nothing was released) */
	CRYPTO_ERR_RNG = -9,       /* the random bytes given never fell in range */
	CRYPTO_ERR_LAST = -10
};

/* A fixed English message for every code; never NULL. */
const char *crypto_strerror(int err);

/* ------------------------------------------------ constant-time helpers (ct.c) */
/* 0 when equal, 1 otherwise; time depends on n only. The verdict is public (see
 * CT_PUBLIC in ct-private.h), where the bytes differ is not. */
int ct_memcmp(const void *a, const void *b, size_t n);
/* Zeroes n bytes in a way the compiler cannot drop. */
void ct_wipe(void *p, size_t n);
/* The firmware has no libc: these are ours (not constant-time; public data only). */
void ct_memcpy(void *dst, const void *src, size_t n);
/* Zeroes the CT_SCRUB_BYTES of stack just below the caller's frame, where the functions
 * it called left their temporaries and spilled registers. The functions here that
 * handle secrets call it before returning; it must cover their deepest call (on the
 * ARMv6-M build tests/agent/check-armv6m.py proves it does). */
#define CT_SCRUB_BYTES 1280
void ct_stack_scrub(void);

/* ------------------------------------------------------------ SHA-256 (sha256.c) */
#define SHA256_LEN 32
#define SHA256_BLOCK 64
struct sha256 {
	uint32_t h[8];
	uint64_t bytes; /* total length so far */
	uint8_t buf[SHA256_BLOCK];
	uint32_t fill; /* bytes in buf */
};
void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t out[SHA256_LEN]); /* wipes c */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* ------------------------------------------------- HMAC-SHA256 (hmac.c), HKDF (hkdf.c) */
struct hmac_sha256 {
	struct sha256 inner, outer;
};
void hmac_sha256_init(struct hmac_sha256 *c, const uint8_t *key, size_t key_len);
void hmac_sha256_update(struct hmac_sha256 *c, const void *data, size_t len);
void hmac_sha256_final(struct hmac_sha256 *c, uint8_t mac[SHA256_LEN]); /* wipes c */
void hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len,
		 uint8_t mac[SHA256_LEN]);
/* RFC 5869 extract-then-expand; out_len <= 255 * 32 (else CRYPTO_ERR_LENGTH). */
int hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/* ------------------------------------------------------------------ AES (aes.c) */
/* Block encryption only (GCM, CMAC and LoRaWAN need no decryption). No tables indexed
 * by secret data: the S-box is computed, not looked up. */
#define AES_BLOCK 16
struct aes {
	uint32_t rk[60]; /* round keys, 4 words per round + 4 */
	uint32_t rounds; /* 10 (AES-128) or 14 (AES-256) */
};
/* 16 or 32 bytes; any other length is CRYPTO_ERR_LENGTH and leaves a zeroed. */
int aes_setkey(struct aes *a, const uint8_t *key, size_t key_len);
/* in may equal out. */
void aes_encrypt(const struct aes *a, const uint8_t in[AES_BLOCK], uint8_t out[AES_BLOCK]);
void aes_wipe(struct aes *a);

/* ------------------------------------------------------------- AES-GCM (gcm.c) */
/* 96-bit IV, 128-bit tag (the only shape docs/protocols.md uses); key 16 or 32 bytes.
 * Pointers may be NULL when their length is 0. A length beyond SP 800-38D's limits or a
 * wrong key length is CRYPTO_ERR_LENGTH. ct may equal pt (in place), but not overlap it
 * otherwise. On failure the tag is zeroed. */
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16
int gcm_seal(const uint8_t *key, size_t key_len, const uint8_t iv[GCM_IV_LEN], const uint8_t *aad,
	     size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[GCM_TAG_LEN]);
/* Verifies the tag before any plaintext is written: on CRYPTO_ERR_TAG (and on a wrong
 * key length), pt is all zero. pt may equal ct (in place) — the tag is checked over ct
 * first; in place, a refused ct is therefore zeroed too. */
int gcm_open(const uint8_t *key, size_t key_len, const uint8_t iv[GCM_IV_LEN], const uint8_t *aad,
	     size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[GCM_TAG_LEN],
	     uint8_t *pt);

/* ------------------------------------------------------------ AES-CMAC (cmac.c) */
#define CMAC_LEN 16
/* Incremental form, for MICs over a header block followed by a message. */
struct cmac_aes128 {
	struct aes aes;
	uint8_t x[CMAC_LEN]; /* chaining value XOR the block in progress */
	uint32_t fill;       /* bytes of the block in progress (a full one waits for more) */
};
void cmac_aes128_init(struct cmac_aes128 *c, const uint8_t key[16]);
void cmac_aes128_update(struct cmac_aes128 *c, const void *msg, size_t len);
void cmac_aes128_final(struct cmac_aes128 *c, uint8_t mac[CMAC_LEN]); /* wipes c */
void cmac_aes128(const uint8_t key[16], const void *msg, size_t len, uint8_t mac[CMAC_LEN]);
/* Compares the first mac_len (1..16) bytes in constant time: CRYPTO_OK or CRYPTO_ERR_TAG;
 * another mac_len is CRYPTO_ERR_LENGTH. */
int cmac_aes128_verify(const uint8_t key[16], const void *msg, size_t len, const uint8_t *mac,
		       size_t mac_len);

/* -------------------------------------------------------------- LoRaWAN (lorawan.c) */
/* The same derivations and MICs as lpa/core (LoRaWAN 1.0.4 §6.2.5, 1.1 §6.1.1.3, §4.4);
 * EUIs, nonces, DevAddr and counters as integers, laid out little-endian on the air as
 * the spec says. A MIC is the 4 bytes as they go on the air (the first 4 of the CMAC).
 * 24-bit fields (JoinNonce, NetID) above 0xFFFFFF and frames over 255 bytes (a PHYPayload
 * cannot be longer) are CRYPTO_ERR_LENGTH, with the outputs zeroed. */
#define LORAWAN_MIC_LEN 4
struct lorawan10_skeys {
	uint8_t nwk_s_key[16], app_s_key[16];
};
struct lorawan11_skeys {
	uint8_t f_nwk_s_int_key[16], s_nwk_s_int_key[16], nwk_s_enc_key[16], app_s_key[16];
};
int lorawan10_derive(const uint8_t app_key[16], uint32_t join_nonce, uint32_t net_id,
		     uint16_t dev_nonce, struct lorawan10_skeys *out);
int lorawan11_derive(const uint8_t nwk_key[16], const uint8_t app_key[16], uint32_t join_nonce,
		     uint64_t join_eui, uint16_t dev_nonce, struct lorawan11_skeys *out);
void lorawan11_js_keys(const uint8_t nwk_key[16], uint64_t dev_eui, uint8_t js_int_key[16],
		       uint8_t js_enc_key[16]);
/* MIC of a JoinRequest (MHDR | JoinEUI | DevEUI | DevNonce) under NwkKey (1.1) / AppKey. */
void lorawan_join_request_mic(const uint8_t key[16], uint8_t mhdr, uint64_t join_eui,
			      uint64_t dev_eui, uint16_t dev_nonce, uint8_t mic[LORAWAN_MIC_LEN]);
/* Join-accept: decrypts the encrypted part of msg (MHDR kept) in place — with AES
 * *encryption*, as the spec has the server "encrypt" with AES decryption — then checks
 * the MIC: 1.0.x (opt_neg 0) over MHDR|payload with mic_key (AppKey; NwkKey for a 1.1
 * device answered with OptNeg unset); 1.1 (opt_neg 1) over JoinReqType|JoinEUI|DevNonce|
 * MHDR|payload with JSIntKey (join_req_type: 0xFF answering a JoinRequest, else the
 * RejoinType; the three are unused with opt_neg 0). dec_key is AppKey (1.0), NwkKey (1.1
 * join) or JSEncKey (1.1 rejoin). len is 17 or 33 (MHDR + payload + MIC), else
 * CRYPTO_ERR_LENGTH with msg untouched. On CRYPTO_ERR_TAG the decrypted bytes are wiped
 * (msg[0] stays). */
int lorawan_join_accept_open(const uint8_t dec_key[16], const uint8_t mic_key[16], int opt_neg,
			     uint8_t join_req_type, uint64_t join_eui, uint16_t dev_nonce,
			     uint8_t *msg, size_t len);
/* Frame MIC over msg = MHDR | FHDR | FPort | FRMPayload (1.0.x: the B0 block; 1.1
 * uplink: the two-key cmacS/cmacF form, conf_fcnt, tx_dr, tx_ch as §4.4 gives them).
 * dir: 0 uplink, 1 (any nonzero) downlink. */
int lorawan10_frame_mic(const uint8_t nwk_s_key[16], uint8_t dir, uint32_t dev_addr, uint32_t fcnt,
			const uint8_t *msg, size_t len, uint8_t mic[LORAWAN_MIC_LEN]);
int lorawan11_uplink_mic(const uint8_t s_nwk_s_int_key[16], const uint8_t f_nwk_s_int_key[16],
			 uint16_t conf_fcnt, uint8_t tx_dr, uint8_t tx_ch, uint32_t dev_addr,
			 uint32_t fcnt, const uint8_t *msg, size_t len,
			 uint8_t mic[LORAWAN_MIC_LEN]);
int lorawan11_downlink_mic(const uint8_t s_nwk_s_int_key[16], uint16_t conf_fcnt, uint32_t dev_addr,
			   uint32_t fcnt, const uint8_t *msg, size_t len,
			   uint8_t mic[LORAWAN_MIC_LEN]);
/* FRMPayload encryption = decryption (the A-block keystream), in place; len <= 255. */
int lorawan_frm_crypt(const uint8_t key[16], uint8_t dir, uint32_t dev_addr, uint32_t fcnt,
		      uint8_t *payload, size_t len);

/* ---------------------------------------------------------------- P-256 (p256.c) */
/* Encodings as docs/protocols.md uses them: public keys uncompressed (0x04 || X || Y,
 * 65 bytes), private keys 32 bytes big-endian, signatures raw r || s (64 bytes, each
 * big-endian). Public keys and signatures arrive with their length, as they do from
 * the wire: a wrong length is CRYPTO_ERR_LENGTH. Every function is constant-time in
 * its secret inputs (private key, nonce, shared secret) and wipes its working state. */
#define P256_PUB_LEN 65
#define P256_PRIV_LEN 32
#define P256_SIG_LEN 64
/* Full validation, in this order: the single byte 0x00 (SEC1's point at infinity) is
 * CRYPTO_ERR_IDENTITY; a length other than 65 CRYPTO_ERR_LENGTH; a first byte other
 * than 0x04 CRYPTO_ERR_ENCODING; X or Y >= p CRYPTO_ERR_RANGE; off the curve
 * CRYPTO_ERR_POINT. */
int p256_public_check(const uint8_t *pub, size_t len);
/* Key generation from TRNG bytes by rejection sampling: rnd holds rnd_len bytes, consumed
 * 32 at a time until a candidate in [1, n-1] appears; CRYPTO_ERR_RNG when none does. */
int p256_keygen(const uint8_t *rnd, size_t rnd_len, uint8_t priv[P256_PRIV_LEN],
		uint8_t pub[P256_PUB_LEN]);
/* CRYPTO_ERR_RANGE unless priv is in [1, n-1]. */
int p256_public_from_private(const uint8_t priv[P256_PRIV_LEN], uint8_t pub[P256_PUB_LEN]);
/* ECDH: the x-coordinate of priv * peer, after validating peer (errors as
 * p256_public_check) and priv (CRYPTO_ERR_RANGE). */
int p256_ecdh(const uint8_t priv[P256_PRIV_LEN], const uint8_t *peer, size_t peer_len,
	      uint8_t x[32]);
/* ECDSA over a SHA-256 digest. The nonce is RFC 6979's (HMAC-SHA256); extra (may be NULL)
 * hedges it with TRNG bytes as RFC 6979 §3.6 allows (extra_len 0: the plain RFC 6979
 * signature, byte for byte). CRYPTO_ERR_RANGE unless priv is in [1, n-1]. */
int p256_sign(const uint8_t priv[P256_PRIV_LEN], const uint8_t hash[SHA256_LEN],
	      const uint8_t *extra, size_t extra_len, uint8_t sig[P256_SIG_LEN]);
/* CRYPTO_OK, or in this order: the errors of p256_public_check for pub,
 * CRYPTO_ERR_LENGTH unless sig_len is 64, CRYPTO_ERR_SIG_RANGE when r or s is 0 or
 * >= n, CRYPTO_ERR_SIGNATURE when the signature does not verify. */
int p256_verify(const uint8_t *pub, size_t pub_len, const uint8_t hash[SHA256_LEN],
		const uint8_t *sig, size_t sig_len);

#endif
