/*
 * test-kms-enrol — POST /v1/devices/enrol on a real lpa-kms over mutual TLS (SQLite, or
 * PostgreSQL under pg-server.sh): the `enrol` role, the chip's proof of possession, a
 * certificate from the factory device-identity CA (chained, UID and silicon ID in it,
 * the DIK its key), once per chip UID (the same DIK again: the same certificate; another
 * DIK: refused and audited), and issue accepting it only in a lot configured for the
 * factory CA, with the record naming that CA.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "kmstest.h"

#define LOT_F "LOT-FACTORY"
#define LOT_V "LOT-VENDOR"

static X509 *factory_ca;

static void enrol_setup(void)
{
	char out[4096], path[700];
	FILE *f;

	kt_start();
	if (factory_ca)
		return;
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "export-factory-ca", "--dir",
				kt.kms, "--out", kt.dir, NULL),
			 0);
	snprintf(path, sizeof(path), "%s/factory-ca.pem", kt.dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(factory_ca = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "set-lot-ca", LOT_F, "--ca",
				"factory", "--dir", kt.kms, NULL),
			 0);
}

/* A chip as it leaves its first boot: a DIK, a UID, no certificate. */
struct chip {
	EVP_PKEY *dik;
	uint64_t uid;
	uint8_t lpe1[LPA_LPE1_LEN];
};

static void chip_new(struct chip *c, uint64_t uid)
{
	struct lpa_lpe1 e = {.agent_version = 0x0100, .silicon_id = KT_SILICON_ID};

	memset(c, 0, sizeof(*c));
	ck_assert_int_eq(lpa_p256_generate(&c->dik), LPA_OK);
	if (!uid)
		lpa_random(&uid, sizeof(uid));
	c->uid = e.chip_uid = uid;
	ck_assert_int_eq(lpa_p256_public_bytes(c->dik, e.dik_pub), LPA_OK);
	ck_assert_int_eq(lpa_lpe1_build(&e, c->dik, c->lpe1), LPA_OK);
}

static long enrol(const char *token, const uint8_t *lpe1, const char *lot, uint32_t silicon_id,
		  struct kt_resp *r)
{
	char b64[256], body[512];

	kt_b64(lpe1, LPA_LPE1_LEN, b64);
	snprintf(body, sizeof(body),
		 "{\"lot\":\"%s\",\"join_eui\":\"" KT_JOIN_EUI "\",\"silicon_id\":\"%08x\","
		 "\"request\":\"%s\"}",
		 lot, (unsigned)silicon_id, b64);
	kt_http("st1", "POST", "/v1/devices/enrol", token, NULL, body, strlen(body), r);
	return r->status;
}

static size_t cert_of(const struct kt_resp *r, uint8_t *der, size_t cap)
{
	const char *s = json_string_value(json_object_get(r->json, "certificate"));
	size_t n = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "ca")), "factory");
	ck_assert_int_eq(lpa_b64url_decode(s, strlen(s), der, cap, &n), LPA_OK);
	return n;
}

static void login(const char *roles, char token[64])
{
	struct kt_op op;

	kt_operator(&op, "enr", roles, NULL, NULL, NULL);
	kt_login_ok(&op, "st1", token);
}

/* The lines of the audit log (as `audit export` writes it: the file, or the database's
 * table on PostgreSQL) naming action "enrol" and containing what. */
static unsigned audit_count(const char *what)
{
	char cmd[1400], line[8192];
	unsigned n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' audit export --dir '%s'", kt.bin, kt.kms);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "\"action\":\"enrol\"") && strstr(line, what))
			n++;
	ck_assert_int_eq(pclose(f), 0);
	return n;
}

START_TEST(enrol_needs_the_role)
{
	struct kt_resp r;
	struct chip c;
	char token[64];

	chip_new(&c, 0);
	login("operator,qa", token);
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID, &r), 403);
	ck_assert_str_eq(kt_error(&r), "forbidden");
	kt_resp_free(&r);
	ck_assert_int_eq(enrol(NULL, c.lpe1, LOT_F, KT_SILICON_ID, &r), 401);
	kt_resp_free(&r);
	login("enrol", token);
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID, &r), 201);
	kt_resp_free(&r);
	lpa_pkey_free(&c.dik);
}
END_TEST

START_TEST(enrol_certificate_contents)
{
	struct kt_resp r;
	struct chip c;
	uint8_t der[2048], pub[65];
	const unsigned char *p = der;
	char token[64], uid[17], buf[128];
	X509 *x;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	size_t n;

	chip_new(&c, 0);
	login("enrol", token);
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID, &r), 201);
	snprintf(uid, sizeof(uid), "%016llx", (unsigned long long)c.uid);
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "chip_uid")), uid);
	n = cert_of(&r, der, sizeof(der));
	kt_resp_free(&r);
	ck_assert_uint_le(n, 984); /* what the agent's certificate record holds */
	ck_assert_ptr_nonnull(x = d2i_X509(NULL, &p, (long)n));
	/* It chains to the exported factory CA ... */
	ck_assert(X509_STORE_add_cert(st, factory_ca));
	ck_assert(X509_STORE_CTX_init(ctx, st, x, NULL));
	ck_assert_int_eq(X509_verify_cert(ctx), 1);
	/* ... carries the DIK ... */
	ck_assert_int_eq(lpa_p256_public_bytes(X509_get0_pubkey(x), pub), LPA_OK);
	ck_assert_mem_eq(pub, c.lpe1 + 20, 65);
	/* ... the UID as serialNumber and the silicon ID. */
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_serialNumber, buf,
						   sizeof(buf)),
			 0);
	snprintf(uid, sizeof(uid), "%016llX", (unsigned long long)c.uid);
	ck_assert_str_eq(buf, uid);
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
						   NID_organizationalUnitName, buf, sizeof(buf)),
			 0);
	snprintf(uid, sizeof(uid), "%08X", KT_SILICON_ID);
	ck_assert(strstr(buf, uid) != NULL);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(x);
	lpa_pkey_free(&c.dik);
}
END_TEST

START_TEST(enrol_once_per_uid)
{
	struct kt_resp r;
	struct chip c, twin;
	uint8_t der[2048], der2[2048];
	char token[64];
	size_t n, n2;
	unsigned conflicts = audit_count("\"conflict\":true"),
		 repeats = audit_count("\"repeat\":true");

	chip_new(&c, 0);
	chip_new(&twin, c.uid); /* the same UID, another key: a second chip claiming it */
	login("enrol", token);
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID, &r), 201);
	n = cert_of(&r, der, sizeof(der));
	kt_resp_free(&r);
	/* The same request again (a station resuming): the same certificate, byte for byte. */
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID, &r), 200);
	n2 = cert_of(&r, der2, sizeof(der2));
	kt_resp_free(&r);
	ck_assert_uint_eq(n, n2);
	ck_assert_mem_eq(der, der2, n);
	ck_assert_uint_eq(audit_count("\"repeat\":true"), repeats + 1);
	/* Another DIK for that UID: refused, and the refusal is in the audit log. */
	ck_assert_int_eq(enrol(token, twin.lpe1, LOT_F, KT_SILICON_ID, &r), 409);
	ck_assert_str_eq(kt_error(&r), "identity_conflict");
	kt_resp_free(&r);
	ck_assert_uint_eq(audit_count("\"conflict\":true"), conflicts + 1);
	/* ... and the first chip still gets its own certificate. */
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID, &r), 200);
	n2 = cert_of(&r, der2, sizeof(der2));
	kt_resp_free(&r);
	ck_assert_mem_eq(der, der2, n);
	lpa_pkey_free(&c.dik);
	lpa_pkey_free(&twin.dik);
}
END_TEST

START_TEST(enrol_refusals)
{
	struct kt_resp r;
	struct chip c, other;
	uint8_t bad[LPA_LPE1_LEN];
	char token[64], out[4096];

	chip_new(&c, 0);
	chip_new(&other, 0);
	login("enrol", token);
	/* A proof of possession that does not verify: a bit of the signature, or another
	 * chip's key put in (the sender does not hold it). */
	memcpy(bad, c.lpe1, sizeof(bad));
	bad[120] ^= 1;
	ck_assert_int_eq(enrol(token, bad, LOT_F, KT_SILICON_ID, &r), 422);
	ck_assert_str_eq(kt_error(&r), "enrolment_invalid");
	kt_resp_free(&r);
	memcpy(bad, c.lpe1, sizeof(bad));
	memcpy(bad + 20, other.lpe1 + 20, 65);
	ck_assert_int_eq(enrol(token, bad, LOT_F, KT_SILICON_ID, &r), 422);
	ck_assert_str_eq(kt_error(&r), "enrolment_invalid");
	kt_resp_free(&r);
	/* Not an LPE1 at all. */
	memcpy(bad, c.lpe1, sizeof(bad));
	bad[0] = 'X';
	ck_assert_int_eq(enrol(token, bad, LOT_F, KT_SILICON_ID, &r), 400);
	ck_assert_str_eq(kt_error(&r), "bad_enrolment");
	kt_resp_free(&r);
	/* The exam read another silicon ID than the chip claims. */
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID ^ 1, &r), 422);
	ck_assert_str_eq(kt_error(&r), "identity_mismatch");
	kt_resp_free(&r);
	/* Outside the operator's scope. */
	{
		struct kt_op op;
		char t2[64];

		kt_operator(&op, "enrs", "enrol", NULL, "--lots", "LOT-OTHER");
		kt_login_ok(&op, "st1", t2);
		ck_assert_int_eq(enrol(t2, c.lpe1, LOT_F, KT_SILICON_ID, &r), 403);
		ck_assert_str_eq(kt_error(&r), "out_of_scope");
		kt_resp_free(&r);
	}
	/* A lot's CAs are vendor and/or factory, nothing else. */
	ck_assert_int_ne(kt_run(-1, -1, out, sizeof(out), "admin", "set-lot-ca", "LOT-X", "--ca",
				"nobody", "--dir", kt.kms, NULL),
			 0);
	ck_assert_int_ne(kt_run(-1, -1, out, sizeof(out), "admin", "set-lot-ca", "LOT-X", "--ca",
				"vendor,", "--dir", kt.kms, NULL),
			 0);
	/* None of these left an enrolment: the chip enrols afterwards. */
	ck_assert_int_eq(enrol(token, c.lpe1, LOT_F, KT_SILICON_ID, &r), 201);
	kt_resp_free(&r);
	lpa_pkey_free(&c.dik);
	lpa_pkey_free(&other.dik);
}
END_TEST

/* The enrolled chip's LPI1, with the factory certificate. */
static void chip_lpi1(const struct chip *c, const uint8_t *der, size_t n, struct kt_chip *k)
{
	struct lpa_lpi1 id = {.agent_version = 0x0100,
			      .protection = LPA_PROT_NORMAL,
			      .chip_uid = c->uid,
			      .silicon_id = KT_SILICON_ID};

	memset(k, 0, sizeof(*k));
	ck_assert_int_eq(lpa_p256_public_bytes(c->dik, id.dik_pub), LPA_OK);
	id.cert_len = (uint16_t)n;
	memcpy(id.cert, der, n);
	ck_assert_int_eq(lpa_lpi1_build(&id, k->lpi1, sizeof(k->lpi1), &k->lpi1_len), LPA_OK);
	ck_assert(EVP_PKEY_up_ref(c->dik));
	k->dik = c->dik;
	k->uid = c->uid;
}

START_TEST(issue_per_lot_ca)
{
	struct kt_resp r;
	struct chip c;
	struct kt_chip k, vendor;
	uint8_t der[2048], pkg[LPA_LPK1_LEN], rc[LPA_LPR1_LEN], *pl = NULL;
	char token[64], etoken[64], out[8192];
	uint32_t counter;
	size_t n, pl_len;
	json_t *payload;
	EVP_PKEY *rec_key = kt_kms_key("record");
	const char *rec;

	chip_new(&c, 0);
	login("enrol", etoken);
	login("operator", token);
	ck_assert_int_eq(enrol(etoken, c.lpe1, LOT_F, KT_SILICON_ID, &r), 201);
	n = cert_of(&r, der, sizeof(der));
	kt_resp_free(&r);
	chip_lpi1(&c, der, n, &k);
	/* A lot that accepts only the vendor's CA (the default) refuses it ... */
	ck_assert_int_eq(kt_issue("st1", token, &k, LOT_V, "1.1", &counter, pkg, &r), 422);
	ck_assert_str_eq(kt_error(&r), "untrusted_chip");
	kt_resp_free(&r);
	/* ... the factory lot takes it, and the record says so. */
	ck_assert_int_eq(kt_issue("st1", token, &k, LOT_F, "1.1", &counter, pkg, &r), 201);
	kt_resp_free(&r);
	kt_chip_install(&k, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, k.dev_eui, counter, rc, &r), 200);
	rec = json_string_value(json_object_get(r.json, "record"));
	ck_assert_int_eq(lpa_jws_verify(rec, rec_key, NULL, &pl, &pl_len), LPA_OK);
	kt_resp_free(&r);
	ck_assert_ptr_nonnull(payload = json_loadb((const char *)pl, pl_len, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(payload, "ca")), "factory");
	json_decref(payload);
	free(pl);
	/* A vendor-certified chip: refused by the factory-only lot, taken by a lot that
	 * accepts both, with "vendor" in its record; and it cannot be enrolled. */
	kt_chip_new(&vendor, false, 0);
	ck_assert_int_eq(kt_issue("st1", token, &vendor, LOT_F, "1.1", &counter, pkg, &r), 422);
	ck_assert_str_eq(kt_error(&r), "untrusted_chip");
	kt_resp_free(&r);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "admin", "set-lot-ca", "LOT-BOTH", "--ca",
				"vendor,factory", "--dir", kt.kms, NULL),
			 0);
	ck_assert_int_eq(kt_issue("st1", token, &vendor, "LOT-BOTH", "1.1", &counter, pkg, &r),
			 201);
	kt_resp_free(&r);
	kt_chip_install(&vendor, pkg, rc);
	ck_assert_int_eq(kt_confirm("st1", token, vendor.dev_eui, counter, rc, &r), 200);
	rec = json_string_value(json_object_get(r.json, "record"));
	pl = NULL;
	ck_assert_int_eq(lpa_jws_verify(rec, rec_key, NULL, &pl, &pl_len), LPA_OK);
	kt_resp_free(&r);
	ck_assert_ptr_nonnull(payload = json_loadb((const char *)pl, pl_len, 0, NULL));
	ck_assert_str_eq(json_string_value(json_object_get(payload, "ca")), "vendor");
	json_decref(payload);
	free(pl);
	{
		struct chip v = {.dik = vendor.dik, .uid = vendor.uid};
		struct lpa_lpe1 e = {.agent_version = 0x0100,
				     .chip_uid = vendor.uid,
				     .silicon_id = KT_SILICON_ID};

		ck_assert_int_eq(lpa_p256_public_bytes(v.dik, e.dik_pub), LPA_OK);
		ck_assert_int_eq(lpa_lpe1_build(&e, v.dik, v.lpe1), LPA_OK);
		ck_assert_int_eq(enrol(etoken, v.lpe1, "LOT-BOTH", KT_SILICON_ID, &r), 409);
		ck_assert_str_eq(kt_error(&r), "identity_conflict");
		kt_resp_free(&r);
	}
	kt_chip_free(&vendor);
	kt_chip_free(&k);
	lpa_pkey_free(&c.dik);
	lpa_pkey_free(&rec_key);
}
END_TEST

START_TEST(audit_chain_holds)
{
	char out[4096];

	ck_assert_uint_ge(audit_count("\"chip_uid\""), 1);
	ck_assert_int_eq(kt_run(-1, -1, out, sizeof(out), "audit", "verify", "--dir", kt.kms, NULL),
			 0);
}
END_TEST

int main(void)
{
	const struct kt_case cases[] = {
		{"enrol_needs_the_role", enrol_needs_the_role},
		{"enrol_certificate_contents", enrol_certificate_contents},
		{"enrol_once_per_uid", enrol_once_per_uid},
		{"enrol_refusals", enrol_refusals},
		{"issue_per_lot_ca", issue_per_lot_ca},
		{"audit_chain_holds", audit_chain_holds},
	};
	int failed = kt_check("kms-enrol", cases, sizeof(cases) / sizeof(cases[0]), enrol_setup, 60,
			      false);

	X509_free(factory_ca);
	failed += kt_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
