/*
 * lpa-core.h — the core library shared by the station, the reference KMS and the
 * simulated chip: error codes, secret buffers, crypto primitives, LoRaWAN key
 * derivations, TOTP and the binary formats of docs/protocols.md.
 *
 * Conventions: functions return 0 (LPA_OK) or a negative LPA_ERR_* code; outputs come
 * last; no function prints. Binary integers in the formats are big-endian.
 */
#ifndef LPA_CORE_H
#define LPA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct evp_pkey_st EVP_PKEY; /* OpenSSL's type, without pulling its headers */

/* ------------------------------------------------------------------ errors */
enum lpa_err {
	LPA_OK = 0,
	LPA_ERR_NOMEM = -1,         /* out of memory (or secure heap exhausted) */
	LPA_ERR_INVAL = -2,         /* a caller passed an invalid argument */
	LPA_ERR_CRYPTO = -3,        /* an OpenSSL call failed */
	LPA_ERR_LENGTH = -4,        /* input has the wrong length */
	LPA_ERR_MAGIC = -5,         /* magic bytes do not match */
	LPA_ERR_VERSION = -6,       /* unsupported format version */
	LPA_ERR_LORAWAN = -7,       /* unsupported LoRaWAN version byte */
	LPA_ERR_RESERVED = -8,      /* reserved bytes are not zero */
	LPA_ERR_SIGNATURE = -9,     /* a signature does not verify */
	LPA_ERR_WRONG_CHIP = -10,   /* the package names another chip UID */
	LPA_ERR_STALE = -11,        /* the counter is not above the last accepted one */
	LPA_ERR_UNWRAP = -12,       /* AES-GCM tag (or key unwrap) failed */
	LPA_ERR_NWKKEY = -13,       /* 1.0.x package whose NwkKey field is not zero */
	LPA_ERR_KEYCHECK_APP = -14, /* an AppKey check value does not match */
	LPA_ERR_KEYCHECK_NWK = -15, /* a NwkKey check value does not match */
	LPA_ERR_PKG_HASH = -16,     /* receipt names another package */
	LPA_ERR_MISMATCH = -17,     /* a field differs from what was expected */
	LPA_ERR_ENCODING = -18,     /* malformed base64url / hex text */
	LPA_ERR_KEY = -19,          /* malformed or off-curve public/private key */
	LPA_ERR_CERT = -20,         /* malformed certificate length or contents */
	LPA_ERR_STATE = -21,        /* the protection state does not allow it (or is unknown) */
	LPA_ERR_TOTP_FORMAT = -22,  /* the code is not 6 or 8 decimal digits */
	LPA_ERR_TOTP_INVALID = -23, /* the code matches no step in the window */
	LPA_ERR_TOTP_REPLAY = -24,  /* the code's step was already accepted (or is older) */
	LPA_ERR_SYSTEM = -25,       /* a system call failed (see errno) */
	/* Target access (programmer/) */
	LPA_ERR_NO_TARGET = -26,   /* no target answers on the wire (SWD NO_ACK) */
	LPA_ERR_WAIT = -27,        /* the target kept answering WAIT */
	LPA_ERR_FAULT = -28,       /* the target answered FAULT (bus error at an address) */
	LPA_ERR_PROBE_GONE = -29,  /* the probe disappeared (unplugged) */
	LPA_ERR_PROTOCOL = -30,    /* a malformed reply from a probe or OpenOCD */
	LPA_ERR_TIMEOUT = -31,     /* a bounded wait ran out */
	LPA_ERR_NOT_FOUND = -32,   /* no such probe (or other named object) */
	LPA_ERR_UNSUPPORTED = -33, /* unsupported chip family, agent version or feature */
	/* Secure-agent statuses without a format-level equivalent */
	LPA_ERR_AGENT_REQUEST = -34, /* agent: bad request (0xF0000001) */
	LPA_ERR_AGENT_FLASH = -35,   /* agent: flash write failed (0xF0000006) */
	LPA_ERR_AGENT_UNPROV = -36,  /* agent: not provisioned (0xF0000007) */
	LPA_ERR_AGENT_BUSY = -37,    /* agent: busy (0xF0000008) */
	LPA_ERR_AGENT_UNKNOWN = -38, /* agent: a status this version does not know */
	/* Key management system (lpa/station/kms-client.c) */
	LPA_ERR_KMS_UNREACHABLE = -39, /* the KMS could not be reached (network, TLS, timeout) */
	LPA_ERR_KMS_AUTH = -40,        /* the KMS refused the login or the session */
	LPA_ERR_KMS_UNTRUSTED = -41,   /* the KMS refused the chip's identity */
	LPA_ERR_KMS_RECEIPT = -42,     /* the KMS refused the chip's receipt */
	LPA_ERR_KMS_REFUSED = -43,     /* the KMS refused the request */
	LPA_ERR_KMS_SERVER = -44,      /* the KMS failed (5xx) */
	LPA_ERR_KMS_PROTOCOL = -45,    /* a reply from the KMS that does not follow the API */
	LPA_ERR_KMS_RECORD =
		-46,         /* a KMS record that fails the pinned keys or names another device */
	LPA_ERR_FLASH = -47, /* programming the chip's flash failed (an SROM status, a read-back) */
	/* Enrolment (docs/protocols.md, "Enrolment") */
	LPA_ERR_AGENT_NO_CERT = -48,   /* agent: the DIK has no certificate yet (0xF0000009) */
	LPA_ERR_AGENT_CERT_KEY = -49,  /* agent: the certificate is for another key (0xF000000A) */
	LPA_ERR_AGENT_CERTIFIED = -50, /* agent: another certificate is stored (0xF000000B) */
	LPA_ERR_LAST = -51
};

/* A fixed English message for every code; never NULL. */
const char *lpa_strerror(int err);
/* The symbolic name ("LPA_ERR_SIGNATURE"), for logs and JSON. */
const char *lpa_errname(int err);
/* The error's stable identifier for machine-readable output: its name without LPA_ERR_,
 * in lower case ("kms_unreachable"), in buf (LPA_ERRID_MAX); NULL for LPA_OK. Never
 * renamed once published (docs/lpa-station.md). */
#define LPA_ERRID_MAX 48
const char *lpa_errid(int err, char *buf, size_t len);

/* ------------------------------------------------------------ secret buffers */
/*
 * A secret lives in an lpa_secbuf: allocated from OpenSSL's secure heap when
 * lpa_secure_init() set it up (mlock'd, excluded from core dumps), otherwise from
 * mlock'd, MADV_DONTDUMP pages; always wiped with OPENSSL_cleanse before release.
 * There is deliberately no function that formats a secbuf as text.
 */
typedef struct lpa_secbuf lpa_secbuf;

/* Sets up the secure heap (size bytes, power of two) once per process; idempotent.
 * Returns LPA_ERR_SYSTEM when the heap cannot be locked (RLIMIT_MEMLOCK): secbufs
 * then fall back to per-allocation mlock. */
int lpa_secure_init(size_t size);
/* Process hygiene: no core dumps, not ptrace-attachable by other users. */
int lpa_secure_harden_process(void);

lpa_secbuf *lpa_secbuf_new(size_t len); /* zero-filled; NULL on failure */
void lpa_secbuf_free(lpa_secbuf **sb);  /* wipes, releases, sets *sb = NULL */
uint8_t *lpa_secbuf_data(lpa_secbuf *sb);
const uint8_t *lpa_secbuf_cdata(const lpa_secbuf *sb);
size_t lpa_secbuf_len(const lpa_secbuf *sb);
void lpa_secbuf_clear(lpa_secbuf *sb); /* wipe contents, keep the buffer */
int lpa_secbuf_is_secure_heap(const lpa_secbuf *sb);

/* Constant-time comparison; 0 when equal. */
int lpa_ct_memcmp(const void *a, const void *b, size_t len);

/* ----------------------------------------------------------------- encodings */
/* Lower-case hex. out must hold 2*len+1 bytes. */
void lpa_hex_encode(const uint8_t *in, size_t len, char *out);
/* Exactly 2*out_len hex digits (either case) into out; LPA_ERR_ENCODING otherwise. */
int lpa_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_len);
/* The value of one hex digit (either case), or -1 for any other character. */
int lpa_hex_digit(char c);
/* A 64-bit identifier (DevEUI, JoinEUI, chip UID) as exactly 16 hex digits, most
 * significant first. Lower case is what the KMS API, records and journals write;
 * upper case what a DIK certificate's serialNumber and a probe's USB serial spell
 * (docs/protocols.md). out holds the 16 digits and the NUL. */
void lpa_eui_format(uint64_t v, char out[17]);
void lpa_eui_format_upper(uint64_t v, char out[17]);
/* Exactly 16 hex digits, either case, nothing else: no sign, space, "0x" or shorter
 * forms (strtoull would take them). LPA_ERR_LENGTH for another length,
 * LPA_ERR_ENCODING for a character that is not a hex digit; *out is set only on
 * success; LPA_ERR_INVAL for a NULL s (a member that is missing). The _len form takes
 * counted text (a JSON or ASN.1 string may hold a NUL). */
int lpa_eui_parse(const char *s, uint64_t *out);
int lpa_eui_parse_len(const char *s, size_t len, uint64_t *out);
/* Names (lot, station, operator, probe serial): 1..max of A-Z a-z 0-9 . _ - — the KMS's
 * alphabet, safe in a file name (no '/') and in JSON and terminals without escaping. */
#define LPA_NAME_MAX 64
bool lpa_name_valid(const char *s, size_t max);
/* The same alphabet and the characters of extra (NULL: none): for words that also hold
 * a separator, e.g. ':' in a KEK label or an OpenOCD adapter name. */
bool lpa_name_valid_extra(const char *s, size_t max, const char *extra);
/* The word of words[0..n) closest to word (a typo away: one edit, two for words of six
 * letters or more), or NULL: for "did you mean" on commands, options and config keys. */
const char *lpa_suggest(const char *word, const char *const *words, size_t n);
/* base64url without padding (RFC 4648 §5). out must hold lpa_b64url_len(len)+1. */
size_t lpa_b64url_len(size_t len);
void lpa_b64url_encode(const uint8_t *in, size_t len, char *out);
/* Strict decode: alphabet, no padding, no whitespace, canonical trailing bits.
 * *out_len is set to the decoded size; fails with LPA_ERR_LENGTH when out_cap is short. */
int lpa_b64url_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* ------------------------------------------------------------ monotonic time */
/* CLOCK_MONOTONIC (mono.c says why that one): for timeouts, deadlines and durations,
 * never for timestamps that leave the process (those are CLOCK_REALTIME). */
uint64_t lpa_mono_ns(void);
uint64_t lpa_mono_ms(void);
double lpa_mono_s(void); /* seconds with a fraction: measurements, progress */
/* Milliseconds from now to deadline_ms (an lpa_mono_ms() value): 0 or negative once it
 * has passed, e.g. what is left for a poll(). */
int64_t lpa_mono_left_ms(uint64_t deadline_ms);

/* ---------------------------------------------------------- symmetric crypto */
int lpa_sha256(const void *data, size_t len, uint8_t out[32]);
/* AES-CMAC (RFC 4493) with a 128-bit key. */
int lpa_aes_cmac(const uint8_t key[16], const void *msg, size_t len, uint8_t mac[16]);
/* AES key wrap (RFC 3394), KEK of 16/24/32 bytes, key data a multiple of 8, >= 16.
 * Wrapped output is in_len + 8 bytes. Unwrap failure is LPA_ERR_UNWRAP. */
int lpa_aes_keywrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
		    uint8_t *out);
int lpa_aes_keyunwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t in_len,
		      uint8_t *out);
/* HKDF-SHA256 (RFC 5869), extract-and-expand. */
int lpa_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		    const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
/* AES-256-GCM with a 96-bit nonce and a 128-bit tag. */
int lpa_aes256gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		       size_t aad_len, const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16]);
int lpa_aes256gcm_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		       size_t aad_len, const uint8_t *ct, size_t len, const uint8_t tag[16],
		       uint8_t *pt);
int lpa_random(void *buf, size_t len);

/* ------------------------------------------------------------------- P-256 */
#define LPA_P256_PUB_LEN 65 /* SEC1 uncompressed: 04 || X || Y */
#define LPA_P256_SIG_LEN 64 /* raw r || s */

int lpa_p256_generate(EVP_PKEY **key);
/* A key pair from a 32-byte private scalar (test vectors, the simulated chip). */
int lpa_p256_from_private(const uint8_t d[32], EVP_PKEY **key);
/* A public key from SEC1 uncompressed bytes; rejects points not on the curve. */
int lpa_p256_from_public(const uint8_t pub[LPA_P256_PUB_LEN], EVP_PKEY **key);
int lpa_p256_public_bytes(const EVP_PKEY *key, uint8_t pub[LPA_P256_PUB_LEN]);
/* The private scalar, into a secret buffer of 32 bytes. */
int lpa_p256_private_bytes(const EVP_PKEY *key, lpa_secbuf **d);
/* ECDH: the shared secret's x coordinate (32 bytes). */
int lpa_p256_ecdh(EVP_PKEY *priv, const EVP_PKEY *peer, uint8_t x[32]);
/* ECDSA-SHA256 over msg, raw r||s. */
int lpa_p256_sign(EVP_PKEY *priv, const void *msg, size_t len, uint8_t sig[LPA_P256_SIG_LEN]);
int lpa_p256_verify(const EVP_PKEY *pub, const void *msg, size_t len,
		    const uint8_t sig[LPA_P256_SIG_LEN]);
/* raw r||s <-> DER ECDSA-Sig-Value. der_cap >= 72 always suffices. */
int lpa_ecdsa_raw_to_der(const uint8_t raw[LPA_P256_SIG_LEN], uint8_t *der, size_t der_cap,
			 size_t *der_len);
int lpa_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[LPA_P256_SIG_LEN]);
void lpa_pkey_free(EVP_PKEY **key);
/*
 * A signer for keys that are no EVP_PKEY (the KMS's keys in a PKCS#11 token): ECDSA-SHA256
 * over msg, raw r||s, like lpa_p256_sign. Returns LPA_OK or an LPA_ERR_* code.
 */
typedef int (*lpa_p256_signer)(void *ctx, const void *msg, size_t len,
			       uint8_t sig[LPA_P256_SIG_LEN]);

/* ------------------------------------------------------------------ LoRaWAN */
/* Values are given as numbers (EUIs and nonces MSB-first as printed); the
 * functions lay them out little-endian as the air interface does. */
struct lpa_lorawan10_skeys {
	uint8_t nwk_s_key[16];
	uint8_t app_s_key[16];
};
struct lpa_lorawan11_skeys {
	uint8_t f_nwk_s_int_key[16];
	uint8_t s_nwk_s_int_key[16];
	uint8_t nwk_s_enc_key[16];
	uint8_t app_s_key[16];
};
/* LoRaWAN 1.0.x: NwkSKey and AppSKey from AppKey. */
int lpa_lorawan10_derive(const uint8_t app_key[16], uint32_t join_nonce, uint32_t net_id,
			 uint16_t dev_nonce, struct lpa_lorawan10_skeys *out);
/* LoRaWAN 1.1: the network keys from NwkKey, AppSKey from AppKey. */
int lpa_lorawan11_derive(const uint8_t nwk_key[16], const uint8_t app_key[16], uint32_t join_nonce,
			 uint64_t join_eui, uint16_t dev_nonce, struct lpa_lorawan11_skeys *out);
/* LoRaWAN 1.1 join-server keys from NwkKey and DevEUI. */
int lpa_lorawan11_js_keys(const uint8_t nwk_key[16], uint64_t dev_eui, uint8_t js_int_key[16],
			  uint8_t js_enc_key[16]);
/* JoinRequest MIC: CMAC(key, MHDR | JoinEUI | DevEUI | DevNonce)[0..4). */
int lpa_lorawan_join_request_mic(const uint8_t key[16], uint8_t mhdr, uint64_t join_eui,
				 uint64_t dev_eui, uint16_t dev_nonce, uint8_t mic[4]);

/* Join-accept (LoRaWAN 1.0.4 §6.2.3, 1.1 §6.2.3). body: JoinNonce(3) NetID(3) DevAddr(4)
 * DLSettings RxDelay [CFList(16)], little-endian as on air: 12 or 28 bytes. 1.0.x: MIC and
 * encryption under AppKey; 1.1 (opt_neg): MIC under JSIntKey over JoinReqType 0xFF |
 * JoinEUI | DevNonce | MHDR | body, encryption under NwkKey. seal writes MHDR | E(body|MIC)
 * (17 or 33 bytes); open checks the MIC (LPA_ERR_SIGNATURE) and returns the body. */
#define LPA_LORAWAN_MHDR_JOIN_REQUEST 0x00
#define LPA_LORAWAN_MHDR_JOIN_ACCEPT 0x20
#define LPA_LORAWAN_ACCEPT_BODY_MIN 12
#define LPA_LORAWAN_ACCEPT_BODY_MAX 28
int lpa_lorawan_join_accept_seal(const uint8_t mic_key[16], const uint8_t enc_key[16], bool opt_neg,
				 uint64_t join_eui, uint16_t dev_nonce, const uint8_t *body,
				 size_t body_len, uint8_t *out, size_t *out_len);
int lpa_lorawan_join_accept_open(const uint8_t mic_key[16], const uint8_t enc_key[16], bool opt_neg,
				 uint64_t join_eui, uint16_t dev_nonce, const uint8_t *in,
				 size_t in_len, uint8_t *body, size_t *body_len);
/* FRMPayload encryption and decryption (the same XOR stream). */
int lpa_lorawan_frm_crypt(const uint8_t key[16], bool downlink, uint32_t dev_addr, uint32_t fcnt,
			  const uint8_t *in, size_t len, uint8_t *out);
/* The 1.0.x uplink MIC over msg = MHDR | FHDR | FPort | FRMPayload (at most 256 bytes). */
int lpa_lorawan10_uplink_mic(const uint8_t nwk_s_key[16], uint32_t dev_addr, uint32_t fcnt,
			     const uint8_t *msg, size_t len, uint8_t mic[4]);
/* The 1.1 uplink MIC (SNwkSIntKey half first); conf_fcnt, tx_dr, tx_ch as the frame went. */
int lpa_lorawan11_uplink_mic(const uint8_t f_nwk_s_int_key[16], const uint8_t s_nwk_s_int_key[16],
			     uint16_t conf_fcnt, uint8_t tx_dr, uint8_t tx_ch, uint32_t dev_addr,
			     uint32_t fcnt, const uint8_t *msg, size_t len, uint8_t mic[4]);

/* -------------------------------------------------------------------- TOTP */
enum lpa_totp_alg { LPA_TOTP_SHA1 = 0, LPA_TOTP_SHA256 = 1, LPA_TOTP_SHA512 = 2 };
struct lpa_totp_params {
	enum lpa_totp_alg alg;
	unsigned digits; /* 6 or 8 */
	unsigned period; /* seconds, normally 30 */
	unsigned window; /* steps accepted either side of now, normally 1 */
};
/* The RFC 6238 defaults: SHA-1, 6 digits, 30 s, window 1. */
void lpa_totp_params_default(struct lpa_totp_params *p);
int lpa_totp_generate(const struct lpa_totp_params *p, const uint8_t *secret, size_t secret_len,
		      time_t now, char code[9]);
/*
 * Verifies code at time now. last_step is the highest time step this secret ever had
 * accepted (-1 for none): a code whose step is not above it is LPA_ERR_TOTP_REPLAY, so an
 * accepted step can never be used again. On success *step is the accepted step, which the
 * caller must persist as the new last_step before acting on the login.
 */
int lpa_totp_verify(const struct lpa_totp_params *p, const uint8_t *secret, size_t secret_len,
		    time_t now, const char *code, int64_t last_step, int64_t *step);

/* ---------------------------------------------------------------- JWS / JWK */
/* JWS compact serialisation with ES256 (RFC 7515/7518): header {"alg":"ES256","kid":kid}
 * (kid omitted when NULL), payload bytes as given. *jws is malloc'd, NUL-terminated. */
int lpa_jws_sign(EVP_PKEY *key, const char *kid, const void *payload, size_t len, char **jws);
/* The same with a signer of the caller's (sign(ctx, signing input, ...)). */
int lpa_jws_sign_with(lpa_p256_signer sign, void *ctx, const char *kid, const void *payload,
		      size_t len, char **jws);
/* Verifies a compact ES256 JWS. Rejects any alg but ES256, malformed parts, bad base64url.
 * On success *payload (malloc'd, NUL-terminated) and *payload_len hold the payload;
 * *kid (malloc'd, or NULL when absent) the header's kid, when kid is not NULL. */
int lpa_jws_verify(const char *jws, const EVP_PKEY *key, char **kid, uint8_t **payload,
		   size_t *payload_len);
/* The protected header's kid without verifying anything (to pick the key that must
 * verify): *kid malloc'd, or NULL when the header names none. Header errors as for
 * lpa_jws_verify. */
int lpa_jws_kid(const char *jws, char **kid);
/* A P-256 public key as a JWK: {"kty":"EC","crv":"P-256","x":...,"y":...[,"kid":...]} */
int lpa_jwk_from_p256(const EVP_PKEY *key, const char *kid, char **json);
int lpa_jwk_to_p256(const char *json, EVP_PKEY **key);

/* ------------------------------------------------------------------ formats */
enum lpa_lorawan_version { LPA_LORAWAN_10 = 0x10, LPA_LORAWAN_11 = 0x11 };

#define LPA_LPK1_LEN 237
#define LPA_LPK1_SIGNED_LEN 173
#define LPA_LPK1_AAD_LEN 113
#define LPA_LPR1_LEN 120
#define LPA_LPP1_LEN 116
#define LPA_LPI1_HDR_LEN 91
#define LPA_LPI1_MAX_CERT 1024
#define LPA_LPI1_MAX_LEN (LPA_LPI1_HDR_LEN + LPA_LPI1_MAX_CERT)
#define LPA_ROOT_KEYS_LEN 32 /* AppKey || NwkKey */

/* The clear-text header of an LPK1 package: all a station ever learns of it. */
struct lpa_lpk1_hdr {
	uint8_t lorawan; /* enum lpa_lorawan_version */
	uint64_t dev_eui;
	uint64_t join_eui;
	uint64_t chip_uid;
	uint32_t counter;
	uint32_t key_id;
	uint64_t issued_at;
	uint8_t eph_pub[LPA_P256_PUB_LEN];
	uint8_t nonce[12];
};

/*
 * KMS side. keys holds AppKey || NwkKey (32 bytes; NwkKey zero for 1.0.x). eph and
 * nonce fix the ephemeral key and GCM nonce for test vectors; pass NULL for fresh
 * random ones (production). hdr->eph_pub and hdr->nonce are outputs.
 */
int lpa_lpk1_build(struct lpa_lpk1_hdr *hdr, const lpa_secbuf *keys, const EVP_PKEY *dik_pub,
		   EVP_PKEY *kms_sign_key, EVP_PKEY *eph, const uint8_t *nonce,
		   uint8_t out[LPA_LPK1_LEN]);
/* The same with a signer of the caller's for the KMS signature over bytes [0,173). */
int lpa_lpk1_build_with(struct lpa_lpk1_hdr *hdr, const lpa_secbuf *keys, const EVP_PKEY *dik_pub,
			lpa_p256_signer sign, void *sign_ctx, EVP_PKEY *eph, const uint8_t *nonce,
			uint8_t out[LPA_LPK1_LEN]);
/* Station side: length, magic, version, LoRaWAN version, reserved; no crypto. */
int lpa_lpk1_parse(const uint8_t *buf, size_t len, struct lpa_lpk1_hdr *hdr);
/* Verifies the KMS signature only (after lpa_lpk1_parse). */
int lpa_lpk1_verify(const uint8_t *buf, size_t len, const EVP_PKEY *kms_pub);
/*
 * Chip side, checks in the order of docs/protocols.md: magic and version, signature,
 * chip UID, counter > last_counter, GCM tag, NwkKey zero for 1.0.x. On success keys
 * (a new 32-byte secbuf) holds AppKey || NwkKey.
 */
int lpa_lpk1_open(const uint8_t *buf, size_t len, const EVP_PKEY *kms_pub, EVP_PKEY *dik,
		  uint64_t chip_uid, uint32_t last_counter, struct lpa_lpk1_hdr *hdr,
		  lpa_secbuf **keys);
/* The KEK derivation, exposed for test vectors: HKDF over ECDH(eph, DIK).x. */
int lpa_lpk1_kek(const uint8_t shared_x[32], const uint8_t dik_pub[LPA_P256_PUB_LEN],
		 const uint8_t header48[48], uint8_t kek[32]);

struct lpa_lpr1 {
	uint64_t dev_eui;
	uint64_t chip_uid;
	uint32_t counter;
	uint8_t pkg_hash[16]; /* first 16 bytes of SHA-256(LPK1) */
	uint8_t app_check[8];
	uint8_t nwk_check[8];
};
/* Chip side: fills the key checks from keys, signs with the DIK. */
int lpa_lpr1_build(struct lpa_lpr1 *r, uint8_t lorawan, const lpa_secbuf *keys, EVP_PKEY *dik,
		   uint8_t out[LPA_LPR1_LEN]);
/* Station side: length and magic only. */
int lpa_lpr1_parse(const uint8_t *buf, size_t len, struct lpa_lpr1 *r);
/* KMS side: signature, then package hash, counter, the key checks. */
/* KMS side: signature, then package hash, DevEUI/UID/counter against the package
 * (which also gives the LoRaWAN version), then the key checks. */
int lpa_lpr1_verify(const uint8_t *buf, size_t len, const EVP_PKEY *dik_pub,
		    const uint8_t lpk1[LPA_LPK1_LEN], const lpa_secbuf *keys, struct lpa_lpr1 *r);

struct lpa_lpp1 {
	uint64_t dev_eui;
	uint64_t chip_uid;
	uint8_t nonce[16];
	uint8_t app_check[8];
	uint8_t nwk_check[8];
};
int lpa_lpp1_build(struct lpa_lpp1 *p, uint8_t lorawan, const lpa_secbuf *keys, EVP_PKEY *dik,
		   uint8_t out[LPA_LPP1_LEN]);
int lpa_lpp1_parse(const uint8_t *buf, size_t len, struct lpa_lpp1 *p);
/* KMS side: signature, DevEUI/UID/nonce as expected, then the key checks. */
int lpa_lpp1_verify(const uint8_t *buf, size_t len, const EVP_PKEY *dik_pub, uint64_t dev_eui,
		    uint64_t chip_uid, const uint8_t nonce[16], uint8_t lorawan,
		    const lpa_secbuf *keys, struct lpa_lpp1 *p);

enum lpa_protection {
	LPA_PROT_VIRGIN = 1,
	LPA_PROT_NORMAL = 2,
	LPA_PROT_SECURE = 3,
	LPA_PROT_DEAD = 4
};
/* "VIRGIN", "NORMAL", "SECURE", "DEAD"; "UNKNOWN" for 0, "INVALID" for any other value. */
const char *lpa_protection_name(unsigned prot);
/* The state lpa_protection_name gives name (0 for "UNKNOWN" and any other name). */
unsigned lpa_protection_from_name(const char *name);
struct lpa_lpi1 {
	uint16_t agent_version;
	uint8_t protection;  /* enum lpa_protection */
	uint8_t provisioned; /* 0 or 1 */
	uint64_t chip_uid;
	uint32_t silicon_id;
	uint32_t last_counter;
	uint8_t dik_pub[LPA_P256_PUB_LEN];
	uint16_t cert_len;
	uint8_t cert[LPA_LPI1_MAX_CERT]; /* DER */
};
/* *out_len = 91 + cert_len. */
int lpa_lpi1_build(const struct lpa_lpi1 *id, uint8_t *out, size_t out_cap, size_t *out_len);
/* Strict, in protocols.md's order: length 91..1115, magic, N in 1..1024, length == 91 + N,
 * protection 1..4, flag 0/1, key on curve. */
int lpa_lpi1_parse(const uint8_t *buf, size_t len, struct lpa_lpi1 *id);

/* LPE1, the enrolment request (lpe1.c): a chip's UID, silicon ID and DIK public key,
 * signed by the DIK itself (proof of possession). 149 bytes. */
#define LPA_LPE1_LEN 149
struct lpa_lpe1 {
	uint16_t agent_version;
	uint64_t chip_uid;
	uint32_t silicon_id;
	uint8_t dik_pub[LPA_P256_PUB_LEN];
};
/* Signs with dik, whose public key must be e->dik_pub (LPA_ERR_KEY otherwise). */
int lpa_lpe1_build(const struct lpa_lpe1 *e, EVP_PKEY *dik, uint8_t out[LPA_LPE1_LEN]);
/* Strict: length, magic, format 1, reserved zero, DIK a curve point, then the DIK's
 * signature (LPA_ERR_SIGNATURE: the sender does not hold the key it names). */
int lpa_lpe1_verify(const uint8_t *buf, size_t len, struct lpa_lpe1 *e);

/* Secure-agent status words (docs/protocols.md) <-> error codes, one table for the chip,
 * the simulator and the station. */
#define LPA_AGENT_OK 0xA0000000u
uint32_t lpa_agent_status_from_err(int err);
int lpa_agent_err_from_status(uint32_t status);

/* GET_STATUS output, 16 bytes: agent version (2), provisioned flag (1), flags (1: bit 0
 * the DIK is certified, the others zero), DevEUI (8, zero when not provisioned), last
 * accepted counter (4). */
#define LPA_STATUS_LEN 16
#define LPA_STATUS_CERTIFIED 0x01
struct lpa_agent_status {
	uint16_t agent_version;
	uint8_t provisioned;
	uint8_t certified; /* 0: GET_IDENTITY answers 0xF0000009 until the chip is enrolled */
	uint64_t dev_eui;
	uint32_t counter;
};
void lpa_status_build(const struct lpa_agent_status *st, uint8_t out[LPA_STATUS_LEN]);
/* The chip UID from SFlash 0x16000600..0x1600060A (die lot[3], wafer, x, y, sort, minor
 * revision, day, month, year), as Cy_SysLib_GetUniqueId builds it: protocols.md, "Chip UID". */
#define LPA_DIE_LEN 11
uint64_t lpa_chip_uid_from_die(const uint8_t die[LPA_DIE_LEN]);
/* Length 16, flag 0/1 (LPA_ERR_MISMATCH), reserved zero (LPA_ERR_RESERVED), then a flag 0
 * with a DevEUI or counter that is not zero (LPA_ERR_MISMATCH). */
int lpa_status_parse(const uint8_t *buf, size_t len, struct lpa_agent_status *st);

/* Big-endian helpers used by every format. */
static inline void lpa_be_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}
static inline uint64_t lpa_be_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

#endif /* LPA_CORE_H */
