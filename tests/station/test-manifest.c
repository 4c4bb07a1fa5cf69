/* The lot manifest: what the writer produces verifies; every kind of tampering QA must
 * catch is caught, at the right line. */
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "manifest.h"
#include "testutil.h"

static EVP_PKEY *kms, *station;
static char dir[64], path[128], keys_path[128];

static char *make_record(EVP_PKEY *key, uint64_t eui, uint64_t uid, const char *lot)
{
	char payload[512], *jws = NULL;

	snprintf(payload, sizeof(payload),
		 "{\"v\":1,\"dev_eui\":\"%016llx\",\"join_eui\":\"70b3d57ed0000000\","
		 "\"lorawan\":\"1.1\",\"chip_uid\":\"%016llx\",\"counter\":1,\"lot\":\"%s\"}",
		 (unsigned long long)eui, (unsigned long long)uid, lot);
	ck_assert_int_eq(lpa_jws_sign(key, "record-1", payload, strlen(payload), &jws), LPA_OK);
	return jws;
}

static void append(manifest *m, EVP_PKEY *key, uint64_t eui, uint64_t uid)
{
	char *jws = make_record(key, eui, uid, "LOT-7");

	ck_assert_int_eq(manifest_append_record(m, jws), LPA_OK);
	free(jws);
}

/* Three records and a trailer. */
static void write_good(void)
{
	manifest *m = NULL;

	unlink(path);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	for (uint64_t i = 1; i <= 3; i++)
		append(m, kms, 0x70b3d57ed0000000ULL + i, 0xc0ffee00ULL + i);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_OK);
	manifest_close(&m);
}

static void setup(void)
{
	char *jwk = NULL;
	FILE *f;

	ck_assert_int_eq(lpa_p256_generate(&kms), 0);
	ck_assert_int_eq(lpa_p256_generate(&station), 0);
	snprintf(dir, sizeof(dir), "/tmp/lpa-manifest-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lot.jsonl", dir);
	snprintf(keys_path, sizeof(keys_path), "%s/keys.json", dir);
	ck_assert_int_eq(lpa_jwk_from_p256(kms, "record-1", &jwk), 0);
	ck_assert_ptr_nonnull(f = fopen(keys_path, "w"));
	fprintf(f, "{\"keys\":[%.*s,\"purpose\":\"record\"}]}\n", (int)strlen(jwk) - 1, jwk);
	fclose(f);
	free(jwk);
	write_good();
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	lpa_pkey_free(&kms);
	lpa_pkey_free(&station);
}

/* Verifies path; returns the result and fills rep. */
static int verify(struct manifest_report *rep, bool pin)
{
	struct manifest_keys k;
	char err[256];
	FILE *f;
	int r;

	ck_assert_int_eq(manifest_keys_load_jwks(keys_path, &k, err, sizeof(err)), LPA_OK);
	if (pin) {
		ck_assert_int_eq(EVP_PKEY_up_ref(station), 1);
		k.station = station;
	}
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	r = manifest_verify(f, &k, rep);
	fclose(f);
	manifest_keys_free(&k);
	return r;
}

/* The file's lines, to tamper with. */
static size_t read_lines(char lines[][4096], size_t max)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	ck_assert_ptr_nonnull(f);
	while (n < max && fgets(lines[n], 4096, f) != NULL)
		n++;
	fclose(f);
	return n;
}

static void write_lines(char lines[][4096], const size_t *order, size_t n)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		fputs(lines[order[i]], f);
	fclose(f);
}

START_TEST(good_manifest_verifies)
{
	struct manifest_report rep;

	ck_assert_int_eq(verify(&rep, true), LPA_OK);
	ck_assert_uint_eq(rep.lines, 4);
	ck_assert_uint_eq(rep.records, 3);
	ck_assert_uint_eq(rep.trailers, 1);
	ck_assert_uint_eq(rep.n_lots, 1);
	ck_assert_str_eq(rep.lots[0].lot, "LOT-7");
	ck_assert_uint_eq(rep.lots[0].records, 3);
	ck_assert(rep.trailer_key_pinned);
	ck_assert_uint_eq(rep.bad_line, 0);
}
END_TEST

START_TEST(modified_record_caught)
{
	static char lines[8][4096];
	size_t n = read_lines(lines, 8), order[] = {0, 1, 2, 3};
	struct manifest_report rep;
	char *p = strstr(lines[1], "\"record\":\"") + 40; /* inside the JWS payload */

	*p = *p == 'A' ? 'B' : 'A';
	write_lines(lines, order, n);
	ck_assert_int_ne(verify(&rep, true), LPA_OK);
	ck_assert_uint_eq(rep.bad_line, 2);
}
END_TEST

START_TEST(removed_line_caught)
{
	static char lines[8][4096];
	size_t n = read_lines(lines, 8), order[] = {0, 2, 3};
	struct manifest_report rep;

	ck_assert_uint_eq(n, 4);
	write_lines(lines, order, 3);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_MISMATCH);
	ck_assert_uint_eq(rep.bad_line, 2);
	ck_assert_ptr_nonnull(strstr(rep.error, "chain"));
}
END_TEST

START_TEST(reordered_lines_caught)
{
	static char lines[8][4096];
	size_t n = read_lines(lines, 8), order[] = {0, 2, 1, 3};
	struct manifest_report rep;

	write_lines(lines, order, n);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_MISMATCH);
	ck_assert_uint_eq(rep.bad_line, 2);
}
END_TEST

START_TEST(removed_trailer_caught)
{
	static char lines[8][4096];
	size_t order[] = {0, 1, 2};
	struct manifest_report rep;

	read_lines(lines, 8);
	write_lines(lines, order, 3);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_LENGTH);
	ck_assert_ptr_nonnull(strstr(rep.error, "not closed"));
}
END_TEST

START_TEST(duplicated_device_caught)
{
	manifest *m = NULL;
	struct manifest_report rep;

	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	append(m, kms, 0x70b3d57ed0000002ULL, 0xc0ffee99ULL); /* DevEUI of line 2 again */
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_OK);
	manifest_close(&m);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_MISMATCH);
	ck_assert_uint_eq(rep.bad_line, 5);
	ck_assert_ptr_nonnull(strstr(rep.error, "DevEUI 70b3d57ed0000002 appears twice"));
	ck_assert_ptr_nonnull(strstr(rep.error, "line 2"));
}
END_TEST

START_TEST(wrong_trailer_count_caught)
{
	static char lines[8][4096];
	size_t n = read_lines(lines, 8), order[] = {0, 1, 2, 3};
	struct manifest_report rep;
	char *p = strstr(lines[3], "\"count\":3");

	ck_assert_ptr_nonnull(p);
	p[8] = '4';
	write_lines(lines, order, n);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_MISMATCH);
	ck_assert_uint_eq(rep.bad_line, 4);
	ck_assert_ptr_nonnull(strstr(rep.error, "count"));
}
END_TEST

START_TEST(record_signed_by_other_key_caught)
{
	EVP_PKEY *rogue = NULL;
	manifest *m = NULL;
	struct manifest_report rep;

	ck_assert_int_eq(lpa_p256_generate(&rogue), 0);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	append(m, rogue, 0x70b3d57ed0000009ULL, 0xc0ffee09ULL);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_OK);
	manifest_close(&m);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_SIGNATURE);
	ck_assert_uint_eq(rep.bad_line, 5);
	lpa_pkey_free(&rogue);
}
END_TEST

/* Someone drops the last record and re-signs the trailer with their own key: only the
 * pinned station key tells. */
START_TEST(resigned_trailer_needs_pinned_key)
{
	EVP_PKEY *rogue = NULL;
	manifest *m = NULL;
	struct manifest_report rep;
	static char lines[8][4096];
	size_t order[] = {0, 1};

	read_lines(lines, 8);
	write_lines(lines, order, 2);
	ck_assert_int_eq(lpa_p256_generate(&rogue), 0);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", rogue, "station-1"), LPA_OK);
	manifest_close(&m);
	ck_assert_int_eq(verify(&rep, false), LPA_OK);
	ck_assert(!rep.trailer_key_pinned); /* reported, so QA can see it */
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_SIGNATURE);
	ck_assert_uint_eq(rep.bad_line, 3);
	lpa_pkey_free(&rogue);
}
END_TEST

START_TEST(torn_last_line_recovered)
{
	manifest *m = NULL;
	struct manifest_report rep;
	FILE *f = fopen(path, "a");

	fputs("{\"seq\":4,\"record\":\"eyJhbGciOi", f); /* a crash mid-write */
	fclose(f);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_LENGTH);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	ck_assert_uint_eq(manifest_count(m), 3);
	append(m, kms, 0x70b3d57ed0000004ULL, 0xc0ffee04ULL);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_OK);
	manifest_close(&m);
	ck_assert_int_eq(verify(&rep, true), LPA_OK);
	ck_assert_uint_eq(rep.records, 4);
	ck_assert_uint_eq(rep.trailers, 2);
}
END_TEST

START_TEST(garbage_line_named)
{
	struct manifest_report rep;
	FILE *f = fopen(path, "a");

	fputs("not json\n", f);
	fclose(f);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_ENCODING);
	ck_assert_uint_eq(rep.bad_line, 5);
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(good_manifest_verifies),
		TU_CASE(modified_record_caught),
		TU_CASE(removed_line_caught),
		TU_CASE(reordered_lines_caught),
		TU_CASE(removed_trailer_caught),
		TU_CASE(duplicated_device_caught),
		TU_CASE(wrong_trailer_count_caught),
		TU_CASE(record_signed_by_other_key_caught),
		TU_CASE(resigned_trailer_needs_pinned_key),
		TU_CASE(torn_last_line_recovered),
		TU_CASE(garbage_line_named),
	};

	return tu_main_fixture("manifest", cases, TU_N(cases), setup, teardown);
}
