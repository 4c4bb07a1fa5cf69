/*
 * LPK1, LPR1, LPP1, LPI1: round trips, every single-bit flip rejected, and each
 * documented refusal with its own error.
 */
#include <openssl/evp.h>

#include "testutil.h"

#define UID 0x1122334455667788ULL
#define OTHER_UID 0x1122334455667789ULL
#define DEV_EUI 0x70b3d57ed0000001ULL
#define JOIN_EUI 0x70b3d57ed0000000ULL

static EVP_PKEY *kms, *kms2, *dik, *dik2;
static lpa_secbuf *keys11, *keys10;

static void setup(void)
{
	ck_assert_int_eq(lpa_p256_generate(&kms), 0);
	ck_assert_int_eq(lpa_p256_generate(&kms2), 0);
	ck_assert_int_eq(lpa_p256_generate(&dik), 0);
	ck_assert_int_eq(lpa_p256_generate(&dik2), 0);
	keys11 = tu_secbuf_hex("000102030405060708090a0b0c0d0e0f f0e0d0c0b0a090807060504030201000",
			       32);
	keys10 = tu_secbuf_hex("2b7e151628aed2a6abf7158809cf4f3c 00000000000000000000000000000000",
			       32);
}

static void teardown(void)
{
	lpa_pkey_free(&kms);
	lpa_pkey_free(&kms2);
	lpa_pkey_free(&dik);
	lpa_pkey_free(&dik2);
	lpa_secbuf_free(&keys11);
	lpa_secbuf_free(&keys10);
}

static void build(uint8_t lorawan, uint32_t counter, uint8_t pkg[LPA_LPK1_LEN])
{
	struct lpa_lpk1_hdr h = {.lorawan = lorawan,
				 .dev_eui = DEV_EUI,
				 .join_eui = JOIN_EUI,
				 .chip_uid = UID,
				 .counter = counter,
				 .key_id = 7,
				 .issued_at = 1790000000};

	ck_assert_int_eq(lpa_lpk1_build(&h, lorawan == LPA_LORAWAN_11 ? keys11 : keys10, dik, kms,
					NULL, NULL, pkg),
			 LPA_OK);
}

static void round_trip(uint8_t lorawan)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	lpa_secbuf *out = NULL;
	const lpa_secbuf *want = lorawan == LPA_LORAWAN_11 ? keys11 : keys10;

	build(lorawan, 5, pkg);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 4, &h, &out), LPA_OK);
	ck_assert_ptr_nonnull(out);
	ck_assert_mem_eq(lpa_secbuf_cdata(out), lpa_secbuf_cdata(want), 32);
	ck_assert_uint_eq(h.lorawan, lorawan);
	ck_assert_uint_eq(h.dev_eui, DEV_EUI);
	ck_assert_uint_eq(h.join_eui, JOIN_EUI);
	ck_assert_uint_eq(h.counter, 5);
	ck_assert_uint_eq(h.key_id, 7);
	ck_assert_uint_eq(h.issued_at, 1790000000);
	/* The plaintext keys appear nowhere in the package. */
	ck_assert_ptr_null(memmem(pkg, sizeof(pkg), lpa_secbuf_cdata(want), 16));
	lpa_secbuf_free(&out);
}

START_TEST(lpk1_round_trip_11)
{
	round_trip(LPA_LORAWAN_11);
}
END_TEST

START_TEST(lpk1_round_trip_10)
{
	round_trip(LPA_LORAWAN_10);
}
END_TEST

START_TEST(lpk1_station_parse_header_only)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;

	build(LPA_LORAWAN_11, 9, pkg);
	ck_assert_int_eq(lpa_lpk1_parse(pkg, sizeof(pkg), &h), LPA_OK);
	ck_assert_uint_eq(h.chip_uid, UID);
	ck_assert_uint_eq(h.counter, 9);
	ck_assert_int_eq(lpa_lpk1_verify(pkg, sizeof(pkg), kms), LPA_OK);
	ck_assert_int_eq(lpa_lpk1_parse(pkg, sizeof(pkg) - 1, &h), LPA_ERR_LENGTH);
}
END_TEST

/* The error the chip must give for a flip of bit b in byte i of a valid package. */
static int expected_flip_error(size_t i, uint8_t flipped_byte)
{
	if (i < 4)
		return LPA_ERR_MAGIC;
	if (i == 4)
		return LPA_ERR_VERSION;
	if (i == 5)
		return flipped_byte == LPA_LORAWAN_10 || flipped_byte == LPA_LORAWAN_11
			       ? LPA_ERR_SIGNATURE
			       : LPA_ERR_LORAWAN;
	if (i < 8)
		return LPA_ERR_RESERVED;
	return LPA_ERR_SIGNATURE;
}

START_TEST(lpk1_every_bit_flip_rejected)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	lpa_secbuf *out = NULL;

	build(LPA_LORAWAN_11, 3, pkg);
	for (size_t i = 0; i < sizeof(pkg); i++) {
		for (int b = 0; b < 8; b++) {
			pkg[i] ^= (uint8_t)(1u << b);
			int r = lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 0, &h, &out);

			ck_assert_msg(r == expected_flip_error(i, pkg[i]),
				      "byte %zu bit %d: got %s", i, b, lpa_errname(r));
			ck_assert_ptr_null(out);
			pkg[i] ^= (uint8_t)(1u << b);
		}
	}
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 0, &h, &out), LPA_OK);
	lpa_secbuf_free(&out);
}
END_TEST

START_TEST(lpk1_other_chips_dik)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	lpa_secbuf *out = NULL;

	build(LPA_LORAWAN_11, 3, pkg);
	/* Same UID claimed, another chip's key: only the unwrap can tell. */
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik2, UID, 0, &h, &out),
			 LPA_ERR_UNWRAP);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(lpk1_other_chip_uid)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	lpa_secbuf *out = NULL;

	build(LPA_LORAWAN_11, 3, pkg);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, OTHER_UID, 0, &h, &out),
			 LPA_ERR_WRONG_CHIP);
}
END_TEST

START_TEST(lpk1_stale_counter)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	lpa_secbuf *out = NULL;

	build(LPA_LORAWAN_11, 3, pkg);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 3, &h, &out),
			 LPA_ERR_STALE);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 4, &h, &out),
			 LPA_ERR_STALE);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 2, &h, &out), LPA_OK);
	lpa_secbuf_free(&out);
}
END_TEST

START_TEST(lpk1_wrong_kms_key)
{
	uint8_t pkg[LPA_LPK1_LEN];
	struct lpa_lpk1_hdr h;
	lpa_secbuf *out = NULL;

	build(LPA_LORAWAN_11, 3, pkg);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms2, dik, UID, 0, &h, &out),
			 LPA_ERR_SIGNATURE);
}
END_TEST

/* A rogue-but-signing KMS: a 1.0.x package whose ciphertext carries a NwkKey. Built by
 * hand from the primitives, which also cross-checks lpa_lpk1_build's layout. */
START_TEST(lpk1_10_with_nwkkey_refused)
{
	uint8_t pkg[LPA_LPK1_LEN], x[32], kek[32], dik_pub[65];
	EVP_PKEY *eph = NULL;
	struct lpa_lpk1_hdr h;
	lpa_secbuf *out = NULL;

	ck_assert_int_eq(lpa_lpk1_build(&(struct lpa_lpk1_hdr){.lorawan = LPA_LORAWAN_10,
							       .chip_uid = UID,
							       .counter = 1},
					keys11, dik, kms, NULL, NULL, pkg),
			 LPA_ERR_NWKKEY); /* the honest builder refuses */

	memset(pkg, 0, sizeof(pkg));
	memcpy(pkg, "LPK1", 4);
	pkg[4] = 1;
	pkg[5] = LPA_LORAWAN_10;
	lpa_be_put(pkg + 24, UID, 8);
	lpa_be_put(pkg + 32, 1, 4);
	ck_assert_int_eq(lpa_p256_generate(&eph), 0);
	ck_assert_int_eq(lpa_p256_public_bytes(eph, pkg + 48), 0);
	memset(pkg + 113, 0x33, 12);
	ck_assert_int_eq(lpa_p256_ecdh(eph, dik, x), 0);
	ck_assert_int_eq(lpa_p256_public_bytes(dik, dik_pub), 0);
	ck_assert_int_eq(lpa_lpk1_kek(x, dik_pub, pkg, kek), 0);
	ck_assert_int_eq(lpa_aes256gcm_seal(kek, pkg + 113, pkg, 113, lpa_secbuf_cdata(keys11), 32,
					    pkg + 125, pkg + 157),
			 0);
	ck_assert_int_eq(lpa_p256_sign(kms, pkg, 173, pkg + 173), 0);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 0, &h, &out),
			 LPA_ERR_NWKKEY);
	ck_assert_ptr_null(out);
	/* The same bytes relabelled 1.1 (re-signed) open fine: the check is the only gate. */
	pkg[5] = LPA_LORAWAN_11;
	ck_assert_int_eq(lpa_aes256gcm_seal(kek, pkg + 113, pkg, 113, lpa_secbuf_cdata(keys11), 32,
					    pkg + 125, pkg + 157),
			 0);
	ck_assert_int_eq(lpa_p256_sign(kms, pkg, 173, pkg + 173), 0);
	ck_assert_int_eq(lpa_lpk1_open(pkg, sizeof(pkg), kms, dik, UID, 0, &h, &out),
			 LPA_ERR_UNWRAP);
	lpa_pkey_free(&eph);
}
END_TEST

static void receipt(uint8_t lorawan, uint8_t pkg[LPA_LPK1_LEN], uint8_t rcpt[LPA_LPR1_LEN])
{
	struct lpa_lpk1_hdr h;
	struct lpa_lpr1 r = {0};
	uint8_t hash[32];
	lpa_secbuf *k = NULL;

	build(lorawan, 11, pkg);
	ck_assert_int_eq(lpa_lpk1_open(pkg, LPA_LPK1_LEN, kms, dik, UID, 0, &h, &k), 0);
	ck_assert_int_eq(lpa_sha256(pkg, LPA_LPK1_LEN, hash), 0);
	r.dev_eui = h.dev_eui;
	r.chip_uid = h.chip_uid;
	r.counter = h.counter;
	memcpy(r.pkg_hash, hash, 16);
	ck_assert_int_eq(lpa_lpr1_build(&r, h.lorawan, k, dik, rcpt), LPA_OK);
	lpa_secbuf_free(&k);
}

START_TEST(lpr1_round_trip_both_versions)
{
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN];
	struct lpa_lpr1 r;
	static const uint8_t zero[8];

	receipt(LPA_LORAWAN_11, pkg, rcpt);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys11, &r), LPA_OK);
	ck_assert_uint_eq(r.counter, 11);
	ck_assert_mem_ne(r.nwk_check, zero, 8);
	receipt(LPA_LORAWAN_10, pkg, rcpt);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys10, &r), LPA_OK);
	ck_assert_mem_eq(r.nwk_check, zero, 8);
}
END_TEST

START_TEST(lpr1_every_bit_flip_rejected)
{
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN];
	struct lpa_lpr1 r;

	receipt(LPA_LORAWAN_11, pkg, rcpt);
	for (size_t i = 0; i < sizeof(rcpt); i++)
		for (int b = 0; b < 8; b++) {
			rcpt[i] ^= (uint8_t)(1u << b);
			ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys11, &r),
					 i < 4 ? LPA_ERR_MAGIC : LPA_ERR_SIGNATURE);
			rcpt[i] ^= (uint8_t)(1u << b);
		}
}
END_TEST

START_TEST(lpr1_refusals)
{
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN], other[LPA_LPK1_LEN];
	struct lpa_lpr1 r;
	lpa_secbuf *wrong_app = tu_secbuf_hex("ff0102030405060708090a0b0c0d0e0f"
					      "f0e0d0c0b0a090807060504030201000",
					      32);
	lpa_secbuf *wrong_nwk = tu_secbuf_hex("000102030405060708090a0b0c0d0e0f"
					      "ffe0d0c0b0a090807060504030201000",
					      32);

	receipt(LPA_LORAWAN_11, pkg, rcpt);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik2, pkg, keys11, &r),
			 LPA_ERR_SIGNATURE);
	build(LPA_LORAWAN_11, 11, other); /* same fields, fresh ephemeral key: another package */
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, other, keys11, &r),
			 LPA_ERR_PKG_HASH);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, wrong_app, &r),
			 LPA_ERR_KEYCHECK_APP);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, wrong_nwk, &r),
			 LPA_ERR_KEYCHECK_NWK);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt) - 1, dik, pkg, keys11, &r),
			 LPA_ERR_LENGTH);
	lpa_secbuf_free(&wrong_app);
	lpa_secbuf_free(&wrong_nwk);
}
END_TEST

static void proof(uint8_t lorawan, const lpa_secbuf *k, uint8_t out[LPA_LPP1_LEN])
{
	struct lpa_lpp1 p = {.dev_eui = DEV_EUI, .chip_uid = UID};

	memset(p.nonce, 0x4e, 16);
	ck_assert_int_eq(lpa_lpp1_build(&p, lorawan, k, dik, out), LPA_OK);
}

START_TEST(lpp1_round_trip_and_flips)
{
	uint8_t pp[LPA_LPP1_LEN], nonce[16];
	struct lpa_lpp1 p;

	memset(nonce, 0x4e, 16);
	proof(LPA_LORAWAN_10, keys10, pp);
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI, UID, nonce, LPA_LORAWAN_10,
					 keys10, &p),
			 LPA_OK);
	proof(LPA_LORAWAN_11, keys11, pp);
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI, UID, nonce, LPA_LORAWAN_11,
					 keys11, &p),
			 LPA_OK);
	for (size_t i = 0; i < sizeof(pp); i++)
		for (int b = 0; b < 8; b++) {
			pp[i] ^= (uint8_t)(1u << b);
			ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI, UID, nonce,
							 LPA_LORAWAN_11, keys11, &p),
					 i < 4 ? LPA_ERR_MAGIC : LPA_ERR_SIGNATURE);
			pp[i] ^= (uint8_t)(1u << b);
		}
}
END_TEST

START_TEST(lpp1_refusals)
{
	uint8_t pp[LPA_LPP1_LEN], nonce[16];
	struct lpa_lpp1 p;
	lpa_secbuf *other = tu_secbuf_hex("000102030405060708090a0b0c0d0e0f"
					  "00000000000000000000000000000001",
					  32);

	memset(nonce, 0x4e, 16);
	proof(LPA_LORAWAN_11, keys11, pp);
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik2, DEV_EUI, UID, nonce, LPA_LORAWAN_11,
					 keys11, &p),
			 LPA_ERR_SIGNATURE);
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI + 1, UID, nonce,
					 LPA_LORAWAN_11, keys11, &p),
			 LPA_ERR_MISMATCH);
	nonce[0] ^= 1; /* a replayed proof answers an old challenge */
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI, UID, nonce, LPA_LORAWAN_11,
					 keys11, &p),
			 LPA_ERR_MISMATCH);
	nonce[0] ^= 1;
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI, UID, nonce, LPA_LORAWAN_11,
					 keys10, &p),
			 LPA_ERR_KEYCHECK_APP);
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI, UID, nonce, LPA_LORAWAN_11,
					 other, &p),
			 LPA_ERR_KEYCHECK_NWK);
	lpa_secbuf_free(&other);
}
END_TEST

static void identity(struct lpa_lpi1 *id)
{
	memset(id, 0, sizeof(*id));
	id->agent_version = 0x0102;
	id->protection = LPA_PROT_NORMAL;
	id->chip_uid = UID;
	id->silicon_id = 0xe2072100;
	id->last_counter = 4;
	ck_assert_int_eq(lpa_p256_public_bytes(dik, id->dik_pub), 0);
	id->cert_len = 300;
	memset(id->cert, 0x30, 300);
}

/* One name per protection state, for every report (station, exam, simulator). */
START_TEST(protection_names_round_trip)
{
	ck_assert_str_eq(lpa_protection_name(LPA_PROT_VIRGIN), "VIRGIN");
	ck_assert_str_eq(lpa_protection_name(LPA_PROT_NORMAL), "NORMAL");
	ck_assert_str_eq(lpa_protection_name(LPA_PROT_SECURE), "SECURE");
	ck_assert_str_eq(lpa_protection_name(LPA_PROT_DEAD), "DEAD");
	ck_assert_str_eq(lpa_protection_name(0), "UNKNOWN");
	ck_assert_str_eq(lpa_protection_name(5), "INVALID");
	ck_assert_str_eq(lpa_protection_name(255), "INVALID");
	for (unsigned p = LPA_PROT_VIRGIN; p <= LPA_PROT_DEAD; p++)
		ck_assert_uint_eq(lpa_protection_from_name(lpa_protection_name(p)), p);
	ck_assert_uint_eq(lpa_protection_from_name("UNKNOWN"), 0);
	ck_assert_uint_eq(lpa_protection_from_name("normal"), 0);
	ck_assert_uint_eq(lpa_protection_from_name(""), 0);
}
END_TEST

START_TEST(lpi1_round_trip)
{
	struct lpa_lpi1 id, back;
	uint8_t buf[LPA_LPI1_MAX_LEN];
	size_t n = 0;

	identity(&id);
	ck_assert_int_eq(lpa_lpi1_build(&id, buf, sizeof(buf), &n), LPA_OK);
	ck_assert_uint_eq(n, 391);
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_OK);
	ck_assert_uint_eq(back.agent_version, 0x0102);
	ck_assert_uint_eq(back.protection, LPA_PROT_NORMAL);
	ck_assert_uint_eq(back.chip_uid, UID);
	ck_assert_uint_eq(back.silicon_id, 0xe2072100);
	ck_assert_uint_eq(back.last_counter, 4);
	ck_assert_uint_eq(back.cert_len, 300);
	ck_assert_mem_eq(back.dik_pub, id.dik_pub, 65);
	ck_assert_mem_eq(back.cert, id.cert, 300);
}
END_TEST

START_TEST(lpi1_strict_parse)
{
	struct lpa_lpi1 id, back;
	uint8_t buf[LPA_LPI1_MAX_LEN + 8];
	size_t n = 0;

	identity(&id);
	ck_assert_int_eq(lpa_lpi1_build(&id, buf, sizeof(buf), &n), 0);
	ck_assert_int_eq(lpa_lpi1_parse(buf, n - 1, &back), LPA_ERR_LENGTH);
	ck_assert_int_eq(lpa_lpi1_parse(buf, n + 1, &back), LPA_ERR_LENGTH);
	ck_assert_int_eq(lpa_lpi1_parse(buf, 90, &back), LPA_ERR_LENGTH);
	buf[0] = 'X';
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_MAGIC);
	buf[0] = 'L';
	buf[6] = 5;
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_STATE);
	buf[6] = 0;
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_STATE);
	buf[6] = LPA_PROT_NORMAL;
	buf[7] = 2;
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_MISMATCH);
	buf[7] = 0;
	buf[60] ^= 1; /* off the curve */
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_KEY);
	buf[60] ^= 1;
	lpa_be_put(buf + 89, 1025, 2);
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_CERT);
	lpa_be_put(buf + 89, 0, 2);
	ck_assert_int_eq(lpa_lpi1_parse(buf, 91, &back), LPA_ERR_CERT);
	lpa_be_put(buf + 89, 300, 2);
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_OK);
	id.cert_len = 1025;
	ck_assert_int_eq(lpa_lpi1_build(&id, buf, sizeof(buf), &n), LPA_ERR_CERT);
}
END_TEST

START_TEST(status_round_trip_and_strict)
{
	struct lpa_agent_status st = {.agent_version = 3,
				      .provisioned = 1,
				      .dev_eui = DEV_EUI,
				      .counter = 42},
				back;
	uint8_t buf[LPA_STATUS_LEN];

	lpa_status_build(&st, buf);
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_OK);
	ck_assert_uint_eq(back.dev_eui, DEV_EUI);
	ck_assert_uint_eq(back.counter, 42);
	ck_assert_uint_eq(back.provisioned, 1);
	ck_assert_uint_eq(back.certified, 0);
	ck_assert_int_eq(lpa_status_parse(buf, 15, &back), LPA_ERR_LENGTH);
	st.certified = 1;
	lpa_status_build(&st, buf);
	ck_assert_uint_eq(buf[3], LPA_STATUS_CERTIFIED);
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_OK);
	ck_assert_uint_eq(back.certified, 1);
	buf[3] = 2; /* the other flag bits are reserved */
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_ERR_RESERVED);
	buf[3] = 0;
	buf[2] = 2;
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_ERR_MISMATCH);
}
END_TEST

/* protocols.md, LPI1: the checks in the table's order — each pair of faults reports the
 * earlier check's error. */
START_TEST(lpi1_check_order)
{
	struct lpa_lpi1 id, back;
	uint8_t good[LPA_LPI1_MAX_LEN + 8], buf[LPA_LPI1_MAX_LEN + 8];
	size_t n = 0;

	identity(&id);
	ck_assert_int_eq(lpa_lpi1_build(&id, good, sizeof(good), &n), 0);
	/* 1 before 2: too short and a bad magic. */
	memcpy(buf, good, n);
	buf[0] = 'X';
	ck_assert_int_eq(lpa_lpi1_parse(buf, 90, &back), LPA_ERR_LENGTH);
	ck_assert_int_eq(lpa_lpi1_parse(buf, LPA_LPI1_MAX_LEN + 1, &back), LPA_ERR_LENGTH);
	/* 2 before 3: bad magic and N > 1024. */
	lpa_be_put(buf + 89, 1025, 2);
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_MAGIC);
	/* 3 before 4: N > 1024 with a total length that fits neither. */
	memcpy(buf, good, n);
	lpa_be_put(buf + 89, 1025, 2);
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_CERT);
	/* 3 before 5 and 6: N = 0 in a 91-byte record whose state and flag are bad too. */
	memcpy(buf, good, n);
	lpa_be_put(buf + 89, 0, 2);
	buf[6] = 9;
	buf[7] = 7;
	ck_assert_int_eq(lpa_lpi1_parse(buf, 91, &back), LPA_ERR_CERT);
	/* 4 before 5: a wrong total length and a bad state. */
	memcpy(buf, good, n);
	buf[6] = 9;
	ck_assert_int_eq(lpa_lpi1_parse(buf, n - 1, &back), LPA_ERR_LENGTH);
	/* 5 before 6, 6 before 7. */
	buf[7] = 2;
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_STATE);
	buf[6] = LPA_PROT_NORMAL;
	buf[60] ^= 1;
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_MISMATCH);
	buf[7] = 1;
	ck_assert_int_eq(lpa_lpi1_parse(buf, n, &back), LPA_ERR_KEY);
}
END_TEST

/* protocols.md, GET_STATUS: length, flag, reserved byte, then a chip without keys must
 * report neither a DevEUI nor a counter. */
START_TEST(status_check_order)
{
	struct lpa_agent_status st = {.agent_version = 0x0100}, back;
	uint8_t buf[LPA_STATUS_LEN];

	lpa_status_build(&st, buf);
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_OK);
	ck_assert_uint_eq(back.provisioned, 0);
	buf[2] = 2;
	buf[3] = 2; /* a reserved bit (bit 0 is the certified flag) */
	ck_assert_int_eq(lpa_status_parse(buf, 17, &back), LPA_ERR_LENGTH);
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_ERR_MISMATCH);
	buf[2] = 0;
	buf[11] = 1; /* a DevEUI without keys */
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_ERR_RESERVED);
	buf[3] = 0;
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_ERR_MISMATCH);
	buf[11] = 0;
	buf[15] = 3; /* a counter without keys */
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_ERR_MISMATCH);
	buf[2] = 1; /* with keys, both may be anything */
	ck_assert_int_eq(lpa_status_parse(buf, sizeof(buf), &back), LPA_OK);
	ck_assert_uint_eq(back.counter, 3);
}
END_TEST

/* protocols.md, LPR1 and LPP1: a 1.0.x receipt or proof whose NwkKey check is not zero
 * fails as a NwkKey check, even when the chip signed it. */
START_TEST(lorawan10_zero_fields_required)
{
	uint8_t pkg[LPA_LPK1_LEN], rcpt[LPA_LPR1_LEN], pp[LPA_LPP1_LEN], nonce[16];
	struct lpa_lpr1 r;
	struct lpa_lpp1 p;

	receipt(LPA_LORAWAN_10, pkg, rcpt);
	rcpt[50] = 0x01;
	ck_assert_int_eq(lpa_p256_sign(dik, rcpt, 56, rcpt + 56), LPA_OK);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys10, &r),
			 LPA_ERR_KEYCHECK_NWK);
	rcpt[50] = 0;
	ck_assert_int_eq(lpa_p256_sign(dik, rcpt, 56, rcpt + 56), LPA_OK);
	ck_assert_int_eq(lpa_lpr1_verify(rcpt, sizeof(rcpt), dik, pkg, keys10, &r), LPA_OK);

	memset(nonce, 0x4e, 16);
	proof(LPA_LORAWAN_10, keys10, pp);
	pp[51] = 0x80;
	ck_assert_int_eq(lpa_p256_sign(dik, pp, 52, pp + 52), LPA_OK);
	ck_assert_int_eq(lpa_lpp1_verify(pp, sizeof(pp), dik, DEV_EUI, UID, nonce, LPA_LORAWAN_10,
					 keys10, &p),
			 LPA_ERR_KEYCHECK_NWK);
}
END_TEST

/* protocols.md, "Chip UID": the table's bits and its worked example. */
START_TEST(chip_uid_from_die_fields)
{
	const uint8_t die[LPA_DIE_LEN] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
					  0x07, 0x21, 0x0f, 0x0c, 0x1a};
	uint8_t d[LPA_DIE_LEN];

	ck_assert_uint_eq(lpa_chip_uid_from_die(die), 0x3507060504030201ULL);
	memcpy(d, die, sizeof(d));
	d[8] = 0xff; /* day and month are not part of it */
	d[9] = 0xff;
	ck_assert_uint_eq(lpa_chip_uid_from_die(d), 0x3507060504030201ULL);
	d[7] = 0xfe;  /* only the minor revision's bit 0 */
	d[10] = 0x9a; /* only the year's bits 0..6 */
	ck_assert_uint_eq(lpa_chip_uid_from_die(d), 0x3407060504030201ULL);
	memset(d, 0, sizeof(d));
	d[0] = 1; /* the lot's first byte is the least significant */
	ck_assert_uint_eq(lpa_chip_uid_from_die(d), 1);
	d[0] = 0;
	d[10] = 0x7f;
	ck_assert_uint_eq(lpa_chip_uid_from_die(d), 0xfe00000000000000ULL);
}
END_TEST

START_TEST(lpe1_build_and_strict_verify)
{
	struct lpa_lpe1 e = {.agent_version = 0x0100, .chip_uid = UID, .silicon_id = 0xe2072100},
			back;
	uint8_t buf[LPA_LPE1_LEN], bad[LPA_LPE1_LEN];

	ck_assert_int_eq(lpa_p256_public_bytes(dik, e.dik_pub), LPA_OK);
	ck_assert_int_eq(lpa_lpe1_build(&e, dik2, buf), LPA_ERR_KEY); /* not the key it names */
	ck_assert_int_eq(lpa_lpe1_build(&e, dik, buf), LPA_OK);
	ck_assert_int_eq(lpa_lpe1_verify(buf, sizeof(buf), &back), LPA_OK);
	ck_assert_uint_eq(back.chip_uid, UID);
	ck_assert_uint_eq(back.silicon_id, 0xe2072100);
	ck_assert_uint_eq(back.agent_version, 0x0100);
	ck_assert_mem_eq(back.dik_pub, e.dik_pub, 65);
	ck_assert_int_eq(lpa_lpe1_verify(buf, sizeof(buf) - 1, &back), LPA_ERR_LENGTH);
	memcpy(bad, buf, sizeof(buf));
	bad[0] = 'X';
	ck_assert_int_eq(lpa_lpe1_verify(bad, sizeof(bad), &back), LPA_ERR_MAGIC);
	memcpy(bad, buf, sizeof(buf));
	bad[4] = 2;
	ck_assert_int_eq(lpa_lpe1_verify(bad, sizeof(bad), &back), LPA_ERR_VERSION);
	memcpy(bad, buf, sizeof(buf));
	bad[5] = 1;
	ck_assert_int_eq(lpa_lpe1_verify(bad, sizeof(bad), &back), LPA_ERR_RESERVED);
	memcpy(bad, buf, sizeof(buf));
	bad[60] ^= 1; /* off the curve */
	ck_assert_int_eq(lpa_lpe1_verify(bad, sizeof(bad), &back), LPA_ERR_KEY);
	/* Another chip's key in place of this one's: the signature does not verify (the
	 * sender does not hold the key it names). */
	memcpy(bad, buf, sizeof(buf));
	ck_assert_int_eq(lpa_p256_public_bytes(dik2, bad + 20), LPA_OK);
	ck_assert_int_eq(lpa_lpe1_verify(bad, sizeof(bad), &back), LPA_ERR_SIGNATURE);
	memcpy(bad, buf, sizeof(buf));
	bad[8] ^= 1; /* another UID */
	ck_assert_int_eq(lpa_lpe1_verify(bad, sizeof(bad), &back), LPA_ERR_SIGNATURE);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(lpk1_round_trip_11),
		TU_CASE(lpk1_round_trip_10),
		TU_CASE(lpk1_station_parse_header_only),
		TU_CASE_SLOW(lpk1_every_bit_flip_rejected, 120),
		TU_CASE(lpk1_other_chips_dik),
		TU_CASE(lpk1_other_chip_uid),
		TU_CASE(lpk1_stale_counter),
		TU_CASE(lpk1_wrong_kms_key),
		TU_CASE(lpk1_10_with_nwkkey_refused),
		TU_CASE(lpr1_round_trip_both_versions),
		TU_CASE_SLOW(lpr1_every_bit_flip_rejected, 120),
		TU_CASE(lpr1_refusals),
		TU_CASE_SLOW(lpp1_round_trip_and_flips, 120),
		TU_CASE(lpp1_refusals),
		TU_CASE(protection_names_round_trip),
		TU_CASE(lpi1_round_trip),
		TU_CASE(lpi1_strict_parse),
		TU_CASE(status_round_trip_and_strict),
		TU_CASE(lpi1_check_order),
		TU_CASE(status_check_order),
		TU_CASE(lorawan10_zero_fields_required),
		TU_CASE(chip_uid_from_die_fields),
		TU_CASE(lpe1_build_and_strict_verify),
	};
	return tu_main_fixture("formats", cases, TU_N(cases), setup, teardown);
}
