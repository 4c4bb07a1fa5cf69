/* The lot manifest: what the writer produces verifies; every kind of tampering QA must
 * catch is caught, at the right line. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "manifest.h"
#include "station.h"
#include "testutil.h"

static EVP_PKEY *kms, *station;
static char dir[64], path[128], keys_path[128], cert_path[128], out_path[128];

static const char pkg_hash_hex[] =
	"c98c3b581f575ccee2b60c197bf40080cec54c15e41025c571e035c6c3ea19cf";

/* A record payload as the KMS writes it (docs/kms-api.md), lot and station as given. */
static void record_payload(char *out, size_t cap, uint64_t eui, uint64_t uid, const char *lot,
			   const char *st)
{
	snprintf(out, cap,
		 "{\"v\":1,\"dev_eui\":\"%016llx\",\"join_eui\":\"70b3d57ed0000000\","
		 "\"lorawan\":\"1.1\",\"chip_uid\":\"%016llx\",\"silicon_id\":\"e2072100\","
		 "\"package_sha256\":\"%s\",\"counter\":1,\"lot\":\"%s\",\"station\":\"%s\","
		 "\"operator\":\"demo\"}",
		 (unsigned long long)eui, (unsigned long long)uid, pkg_hash_hex, lot, st);
}

static char *make_record_st(EVP_PKEY *key, const char *kid, uint64_t eui, uint64_t uid,
			    const char *lot, const char *st)
{
	char payload[1024], *jws = NULL;

	record_payload(payload, sizeof(payload), eui, uid, lot, st);
	ck_assert_int_eq(lpa_jws_sign(key, kid, payload, strlen(payload), &jws), LPA_OK);
	return jws;
}

static char *make_record(EVP_PKEY *key, uint64_t eui, uint64_t uid, const char *lot)
{
	return make_record_st(key, "record-1", eui, uid, lot, "st1");
}

/* A JWS with a header of our choosing (an attacker's): header.payload.signature. */
static char *sign_raw(EVP_PKEY *key, const char *header, const char *payload)
{
	size_t hl = lpa_b64url_len(strlen(header)), pl = lpa_b64url_len(strlen(payload));
	char *out = malloc(hl + pl + 100);
	uint8_t sig[64];

	ck_assert_ptr_nonnull(out);
	lpa_b64url_encode((const uint8_t *)header, strlen(header), out);
	out[hl] = '.';
	lpa_b64url_encode((const uint8_t *)payload, strlen(payload), out + hl + 1);
	ck_assert_int_eq(lpa_p256_sign(key, out, hl + 1 + pl, sig), LPA_OK);
	out[hl + 1 + pl] = '.';
	lpa_b64url_encode(sig, 64, out + hl + pl + 2);
	return out;
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
	snprintf(cert_path, sizeof(cert_path), "%s/station.pub.pem", dir);
	snprintf(out_path, sizeof(out_path), "%s/out.txt", dir);
	ck_assert_ptr_nonnull(f = fopen(cert_path, "w"));
	ck_assert_int_eq(PEM_write_PUBKEY(f, station), 1);
	fclose(f);
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
		k.station[k.n_station++] = station;
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

/* protocols.md: the report names the first line that fails — a duplicate on line 3 is
 * reported, not the bad record on line 4 after it. */
START_TEST(duplicate_reported_before_later_bad_line)
{
	manifest *m = NULL;
	struct manifest_report rep;
	EVP_PKEY *other = NULL;

	unlink(path);
	ck_assert_int_eq(lpa_p256_generate(&other), 0);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	append(m, kms, 0x70b3d57ed0000001ULL, 0xc0ffee01ULL);
	append(m, kms, 0x70b3d57ed0000002ULL, 0xc0ffee02ULL);
	append(m, kms, 0x70b3d57ed0000003ULL, 0xc0ffee01ULL);   /* chip UID of line 1 */
	append(m, other, 0x70b3d57ed0000004ULL, 0xc0ffee04ULL); /* signed by no pinned key */
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_OK);
	manifest_close(&m);
	lpa_pkey_free(&other);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_MISMATCH);
	ck_assert_uint_eq(rep.bad_line, 3);
	ck_assert_ptr_nonnull(strstr(rep.error, "chip UID 00000000c0ffee01 appears twice"));
	ck_assert_ptr_nonnull(strstr(rep.error, "first on line 1"));
}
END_TEST

/* protocols.md: a line holds at most 16,384 bytes before its newline. */
START_TEST(line_limit_exact)
{
	static char big[16 * 1024 + 2];
	struct manifest_report rep;
	FILE *f;

	memset(big, 'x', sizeof(big) - 1);
	big[16 * 1024] = '\0';
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fprintf(f, "%s\n", big);
	fclose(f);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_ENCODING); /* long enough, not JSON */
	ck_assert_uint_eq(rep.bad_line, 5);
	write_good();
	big[16 * 1024] = 'x';
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fprintf(f, "%s\n", big);
	fclose(f);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_LENGTH);
	ck_assert_uint_eq(rep.bad_line, 5);
	ck_assert_ptr_nonnull(strstr(rep.error, "longer than 16384"));
}
END_TEST

/* A record payload verified from its JSON text, signed with the pinned record key. */
static int verify_payload(const char *payload, struct manifest_record *rec, char *err,
			  size_t err_len)
{
	struct manifest_keys k;
	char *jws = NULL;
	int r;

	ck_assert_int_eq(manifest_keys_load_jwks(keys_path, &k, err, err_len), LPA_OK);
	ck_assert_int_eq(lpa_jws_sign(kms, "record-1", payload, strlen(payload), &jws), LPA_OK);
	r = manifest_record_verify(&k, jws, rec, err, err_len);
	free(jws);
	manifest_keys_free(&k);
	return r;
}

#define PAYLOAD(eui, ctr)                                                                          \
	"{\"v\":1,\"dev_eui\":" eui ",\"chip_uid\":\"00000000c0ffee01\",\"counter\":" ctr          \
	",\"lot\":\"LOT-7\",\"station\":\"st1\",\"package_sha256\":\""                             \
	"c98c3b581f575ccee2b60c197bf40080cec54c15e41025c571e035c6c3ea19cf\"}"

/* protocols.md: EUIs are strings of exactly 16 hex digits (either case), counters JSON
 * integers in 1..2^32-1. */
START_TEST(record_payload_limits)
{
	static const char *const bad_eui[] = {"\"70b3d57ed000001\"",  "\"70b3d57ed00000011\"",
					      "\"0x70b3d57ed00001\"", "\"70b3d57ed000000g\"",
					      "8118249890593",        "null"};
	static const char *const bad_ctr[] = {"0", "4294967296", "1.0", "\"1\"", "-1", "null"};
	struct manifest_record rec;
	char err[256];

	ck_assert_int_eq(verify_payload(PAYLOAD("\"70B3D57ED0000001\"", "4294967295"), &rec, err,
					sizeof(err)),
			 LPA_OK);
	ck_assert_uint_eq(rec.dev_eui, 0x70b3d57ed0000001ULL);
	ck_assert_uint_eq(rec.counter, 4294967295u);
	for (size_t i = 0; i < TU_N(bad_eui); i++) {
		char p[512];

		snprintf(p, sizeof(p), PAYLOAD("%s", "1"), bad_eui[i]);
		ck_assert_int_eq(verify_payload(p, &rec, err, sizeof(err)), LPA_ERR_ENCODING);
		ck_assert_msg(strstr(err, "\"dev_eui\" is not 16 hex digits") != NULL, "%s: %s",
			      bad_eui[i], err);
	}
	for (size_t i = 0; i < TU_N(bad_ctr); i++) {
		char p[512];

		snprintf(p, sizeof(p), PAYLOAD("\"70b3d57ed0000001\"", "%s"), bad_ctr[i]);
		ck_assert_int_eq(verify_payload(p, &rec, err, sizeof(err)), LPA_ERR_ENCODING);
		ck_assert_msg(strstr(err, "\"counter\" is not an integer") != NULL, "%s: %s",
			      bad_ctr[i], err);
	}
}
END_TEST

/* ------------------------------------------------ the command, run in-process */
/* lpa-station manifest verify ARGS..., its stdout in out_path; returns the exit code. */
static int run_cli(const char *const *args, size_t n)
{
	char *argv[16];
	int saved, fd, rc;

	ck_assert_uint_le(n + 3, TU_N(argv));
	argv[0] = (char *)"manifest";
	argv[1] = (char *)"verify";
	for (size_t i = 0; i < n; i++)
		argv[i + 2] = (char *)args[i];
	argv[n + 2] = NULL;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	ck_assert_int_ge(fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	rc = manifest_main((int)n + 2, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	return rc;
}

static json_t *cli_json(void)
{
	json_error_t je;
	json_t *o = json_load_file(out_path, JSON_REJECT_DUPLICATES, &je);

	ck_assert_msg(o != NULL, "--json output is not one JSON object: %s", je.text);
	return o;
}

/* Appends a trailer line built by hand: the writer would refuse these. */
static void craft_trailer(EVP_PKEY *key, const char *sig_kid, const char *key_kid,
			  const char *payload_fmt, size_t count)
{
	static char lines[16][4096];
	char head[MANIFEST_HASH_HEX] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	char payload[512], *sig = NULL, *jwk = NULL, *line;
	size_t n = 0;
	json_t *o;
	FILE *f = fopen(path, "r");

	if (f != NULL) {
		while (n < 16 && fgets(lines[n], 4096, f) != NULL)
			n++;
		fclose(f);
	}
	if (n > 0)
		manifest_line_hash(lines[n - 1], strlen(lines[n - 1]) - 1, head);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(payload, sizeof(payload), payload_fmt, "LOT-7", count, head);
#pragma GCC diagnostic pop
	ck_assert_int_eq(lpa_jws_sign(key, sig_kid, payload, strlen(payload), &sig), LPA_OK);
	ck_assert_int_eq(lpa_jwk_from_p256(key, key_kid, &jwk), LPA_OK);
	o = json_pack("{s:{s:s,s:I,s:s},s:o,s:s}", "trailer", "lot", "LOT-7", "count",
		      (json_int_t)count, "head", head, "key", json_loads(jwk, 0, NULL), "sig", sig);
	ck_assert_ptr_nonnull(line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER));
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fprintf(f, "%s\n", line);
	fclose(f);
	free(line);
	json_decref(o);
	free(sig);
	free(jwk);
}

/* The three records of write_good, without their trailer. */
static void write_open_batch(void)
{
	static char lines[8][4096];
	size_t order[] = {0, 1, 2};

	read_lines(lines, 8);
	write_lines(lines, order, 3);
}

#define CANON "{\"lot\":\"%s\",\"count\":%zu,\"head\":\"%s\"}"

/* protocols.md: the signature covers exactly the trailer object's compact bytes. */
START_TEST(trailer_payload_compared_exactly)
{
	static const char *const variants[] = {
		"{\"count\":%2$zu,\"lot\":\"%1$s\",\"head\":\"%3$s\"}",   /* reordered */
		"{\"lot\": \"%s\", \"count\": %zu, \"head\": \"%s\"}",    /* spaced */
		"{\"lot\":\"%s\",\"count\":%zu,\"head\":\"%s\",\"x\":1}", /* extra member */
	};
	struct manifest_report rep;

	write_open_batch();
	craft_trailer(station, "station-1", "station-1", CANON, 3);
	ck_assert_int_eq(verify(&rep, true), LPA_OK); /* the hand-made canonical one passes */
	for (size_t i = 0; i < TU_N(variants); i++) {
		write_open_batch();
		craft_trailer(station, "station-1", "station-1", variants[i], 3);
		ck_assert_int_eq(verify(&rep, true), LPA_ERR_MISMATCH);
		ck_assert_uint_eq(rep.bad_line, 4);
		ck_assert_ptr_nonnull(strstr(rep.error, "covers other bytes"));
	}
}
END_TEST

/* protocols.md: the trailer's JWS kid must be its key's kid (the station's name). */
START_TEST(trailer_kid_checked)
{
	struct manifest_report rep;

	write_open_batch();
	craft_trailer(station, "someone-else", "station-1", CANON, 3);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_SIGNATURE);
	ck_assert_ptr_nonnull(strstr(rep.error, "kid"));
	write_open_batch();
	craft_trailer(station, NULL, "station-1", CANON, 3);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_SIGNATURE);
	write_open_batch();
	craft_trailer(station, "station-1", NULL, CANON, 3);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_ENCODING);
	ck_assert_ptr_nonnull(strstr(rep.error, "no kid"));
}
END_TEST

/* protocols.md: a trailer closes at least one record; a trailer-only file fails. */
START_TEST(empty_trailers_refused)
{
	struct manifest_report rep;
	manifest *m = NULL;

	unlink(path);
	craft_trailer(station, "station-1", "station-1", CANON, 0);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_LENGTH);
	ck_assert_uint_eq(rep.bad_line, 1);
	ck_assert_ptr_nonnull(strstr(rep.error, "closes no record"));
	/* After a good batch: a second trailer with count 0. */
	write_good();
	craft_trailer(station, "station-1", "station-1", CANON, 0);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_LENGTH);
	ck_assert_uint_eq(rep.bad_line, 5);
	/* The writer refuses to make one. */
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_ERR_INVAL);
	manifest_close(&m);
}
END_TEST

/* protocols.md: a record JWS must name its key; a kid that is no pinned record key fails;
 * and a JWKS without purposes (or a record key without kid) is refused. */
START_TEST(record_kid_required)
{
	struct manifest_keys k;
	struct manifest_record rec;
	char err[256], *jws;
	FILE *f;

	ck_assert_int_eq(manifest_keys_load_jwks(keys_path, &k, err, sizeof(err)), LPA_OK);
	jws = make_record_st(kms, NULL, 1, 2, "LOT-7", "st1");
	ck_assert_int_eq(manifest_record_verify(&k, jws, &rec, err, sizeof(err)),
			 LPA_ERR_SIGNATURE);
	ck_assert_ptr_nonnull(strstr(err, "names no kid"));
	free(jws);
	jws = make_record_st(kms, "record-9", 1, 2, "LOT-7", "st1");
	ck_assert_int_eq(manifest_record_verify(&k, jws, &rec, err, sizeof(err)),
			 LPA_ERR_SIGNATURE);
	ck_assert_ptr_nonnull(strstr(err, "not a pinned record key"));
	free(jws);
	jws = make_record(kms, 1, 2, "LOT-7");
	ck_assert_int_eq(manifest_record_verify(&k, jws, &rec, err, sizeof(err)), LPA_OK);
	ck_assert_str_eq(rec.kid, "record-1");
	ck_assert_str_eq(rec.station, "st1");
	free(jws);
	manifest_keys_free(&k);

	ck_assert_ptr_nonnull(f = fopen(keys_path, "w"));
	fprintf(f, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}\n");
	fclose(f);
	ck_assert_int_ne(manifest_keys_load_jwks(keys_path, &k, err, sizeof(err)), LPA_OK);
	ck_assert_ptr_nonnull(strstr(err, "no \"purpose\""));
	ck_assert_ptr_nonnull(f = fopen(keys_path, "w"));
	fprintf(f, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\","
		   "\"purpose\":\"record\"}]}\n");
	fclose(f);
	ck_assert_int_ne(manifest_keys_load_jwks(keys_path, &k, err, sizeof(err)), LPA_OK);
	ck_assert_ptr_nonnull(strstr(err, "has no \"kid\""));
}
END_TEST

/* Red team, attack 1 at the unit level: what a malicious KMS returned on confirm — a
 * random signature, an edited payload, alg none, another device's record — fails the
 * station's check before anything is journaled. (tests/e2e red-kms-* does it live.) */
START_TEST(record_check_refuses_forged_records)
{
	uint8_t want_hash[32];
	struct manifest_keys k;
	struct manifest_record_expect x = {.dev_eui = 0x70b3d57ed0000001ULL,
					   .chip_uid = 0xc0ffee01ULL,
					   .counter = 1,
					   .lot = "LOT-7",
					   .package_hash = want_hash,
					   .package_hash_len = 32};
	char err[256], payload[1024], *good, *bad, *dot;

	tu_hex(pkg_hash_hex, want_hash, 32);
	ck_assert_int_eq(manifest_keys_load_jwks(keys_path, &k, err, sizeof(err)), LPA_OK);
	good = make_record(kms, x.dev_eui, x.chip_uid, "LOT-7");
	ck_assert_int_eq(manifest_record_check(&k, good, &x, err, sizeof(err)), LPA_OK);
	/* random signature */
	bad = strdup(good);
	dot = strrchr(bad, '.') + 1;
	for (size_t i = 0; dot[i]; i++)
		dot[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"[(i * 7 + 3) % 32];
	ck_assert_int_eq(manifest_record_check(&k, bad, &x, err, sizeof(err)), LPA_ERR_KMS_RECORD);
	free(bad);
	/* edited payload, original signature */
	record_payload(payload, sizeof(payload), x.dev_eui, x.chip_uid, "LOT-8", "st1");
	bad = sign_raw(kms, "{\"alg\":\"ES256\",\"kid\":\"record-1\"}", payload);
	memcpy(strrchr(bad, '.'), strrchr(good, '.'), strlen(strrchr(good, '.')) + 1);
	ck_assert_int_eq(manifest_record_check(&k, bad, &x, err, sizeof(err)), LPA_ERR_KMS_RECORD);
	free(bad);
	/* alg none */
	bad = sign_raw(kms, "{\"alg\":\"none\",\"kid\":\"record-1\"}", payload);
	ck_assert_int_eq(manifest_record_check(&k, bad, &x, err, sizeof(err)), LPA_ERR_KMS_RECORD);
	free(bad);
	/* another device's record, genuinely signed */
	bad = make_record(kms, x.dev_eui + 1, x.chip_uid + 1, "LOT-7");
	ck_assert_int_eq(manifest_record_check(&k, bad, &x, err, sizeof(err)), LPA_ERR_KMS_RECORD);
	ck_assert_ptr_nonnull(strstr(err, "DevEUI"));
	free(bad);
	/* this device's, but another package (the 16-byte receipt prefix too) */
	want_hash[0] ^= 1;
	ck_assert_int_eq(manifest_record_check(&k, good, &x, err, sizeof(err)), LPA_ERR_KMS_RECORD);
	x.package_hash_len = 16;
	ck_assert_int_eq(manifest_record_check(&k, good, &x, err, sizeof(err)), LPA_ERR_KMS_RECORD);
	want_hash[0] ^= 1;
	ck_assert_int_eq(manifest_record_check(&k, good, &x, err, sizeof(err)), LPA_OK);
	free(good);
	manifest_keys_free(&k);
}
END_TEST

/* Red team, attack 3: a crafted lot made a failing manifest's --json report say
 * "ok":true. The report is built with jansson now: one object, no duplicate member, the
 * lot and file name as plain strings. */
START_TEST(json_report_cannot_be_forged)
{
	/* As it goes into the payload's JSON: the lot's value is LOT-7","ok":true,"x":" */
	static const char crafted[] = "LOT-7\\\",\\\"ok\\\":true,\\\"x\\\":\\\"";
	char fname[256];
	manifest *m = NULL;
	char *jws;
	json_t *o;
	const char *args[] = {fname,     "--kms-keys", keys_path, "--station-cert",
			      cert_path, "--json"};

	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	jws = make_record(kms, 0x70b3d57ed0000009ULL, 0xc0ffee09ULL, crafted);
	ck_assert_int_eq(manifest_append_record(m, jws), LPA_OK);
	free(jws);
	manifest_close(&m);
	snprintf(fname, sizeof(fname), "%s/a\",\"ok\":true,\"b\":\".jsonl", dir);
	ck_assert_int_eq(rename(path, fname), 0);
	ck_assert_int_eq(run_cli(args, TU_N(args)), STATION_EXIT_MANIFEST);
	o = cli_json();
	ck_assert(json_is_false(json_object_get(o, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "file")), fname);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "line")), 5);
	ck_assert_str_eq(json_string_value(json_object_get(o, "error_id")), "LPA_ERR_ENCODING");
	json_decref(o);
	ck_assert_int_eq(rename(fname, path), 0);
}
END_TEST

/* Red team, attack 2b: without --station-cert, batches re-signed with any key passed.
 * Now the command refuses to run unpinned unless told --unpinned. */
START_TEST(unpinned_needs_saying)
{
	const char *plain[] = {path, "--kms-keys", keys_path};
	const char *pinned[] = {path,      "--kms-keys", keys_path, "--station-cert",
				cert_path, "--json"};
	const char *unpinned[] = {path, "--kms-keys", keys_path, "--unpinned", "--json"};
	const char *both[] = {path,         "--kms-keys",     keys_path,
			      "--unpinned", "--station-cert", cert_path};
	EVP_PKEY *rogue = NULL;
	manifest *m = NULL;
	json_t *o;

	ck_assert_int_eq(run_cli(pinned, TU_N(pinned)), STATION_EXIT_OK);
	o = cli_json();
	ck_assert(json_is_true(json_object_get(o, "trailer_key_pinned")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "station")), "st1");
	ck_assert(json_is_null(json_object_get(o, "kms")));
	json_decref(o);
	/* A foreign batch of genuine KMS records, re-signed by someone else's key. */
	ck_assert_int_eq(lpa_p256_generate(&rogue), 0);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	append(m, kms, 0x70b3d57ed0000077ULL, 0xc0ffee77ULL);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", rogue, "station-1"), LPA_OK);
	manifest_close(&m);
	ck_assert_int_eq(run_cli(plain, TU_N(plain)), STATION_EXIT_USAGE);
	ck_assert_int_eq(run_cli(both, TU_N(both)), STATION_EXIT_USAGE);
	ck_assert_int_eq(run_cli(pinned, TU_N(pinned)), STATION_EXIT_MANIFEST);
	ck_assert_int_eq(run_cli(unpinned, TU_N(unpinned)), STATION_EXIT_OK);
	o = cli_json();
	ck_assert(json_is_false(json_object_get(o, "trailer_key_pinned")));
	json_decref(o);
	lpa_pkey_free(&rogue);
}
END_TEST

/* Offline, a file cut back to an earlier trailer is a good manifest (each trailer signs
 * the chain up to it): the text report says the KMS was not asked. (--kms catches the
 * cut: tests/e2e red-manifest.) */
START_TEST(truncation_needs_the_kms)
{
	const char *args[] = {path, "--kms-keys", keys_path, "--station-cert", cert_path};
	manifest *m = NULL;
	FILE *f;
	char buf[4096];
	size_t n;

	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	append(m, kms, 0x70b3d57ed0000044ULL, 0xc0ffee44ULL);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_OK);
	manifest_close(&m);
	write_open_batch();
	write_good();
	ck_assert_int_eq(run_cli(args, TU_N(args)), STATION_EXIT_OK);
	ck_assert_ptr_nonnull(f = fopen(out_path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "not compared with the KMS"));
}
END_TEST

/* A record of another station spliced into this station's manifest. */
START_TEST(foreign_station_record_caught)
{
	manifest *m = NULL;
	struct manifest_report rep;
	char *jws = make_record_st(kms, "record-1", 0x70b3d57ed0000055ULL, 0xc0ffee55ULL, "LOT-7",
				   "st2");

	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	ck_assert_int_eq(manifest_append_record(m, jws), LPA_OK);
	ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"), LPA_OK);
	manifest_close(&m);
	free(jws);
	ck_assert_int_eq(verify(&rep, true), LPA_ERR_MISMATCH);
	ck_assert_uint_eq(rep.bad_line, 5);
	ck_assert_ptr_nonnull(strstr(rep.error, "station st2"));
}
END_TEST

/* ------------------------------------------------------- the index file */
/* What a manifest of these records (the last n_open after the trailer) must answer. */
static void idx_assert(char *const *jws, size_t n, size_t n_open)
{
	manifest *m = NULL;
	bool there = false;
	char *other = make_record(kms, 0x70b3d57ed00000ffULL, 0xc0ffeeffULL, "LOT-7");

	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	ck_assert_uint_eq(manifest_count(m), n);
	ck_assert_uint_eq(manifest_open_records(m), n_open);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(manifest_contains(m, jws[i], &there), LPA_OK);
		ck_assert(there);
	}
	ck_assert_int_eq(manifest_contains(m, other, &there), LPA_OK);
	ck_assert(!there);
	manifest_close(&m);
	free(other);
}

/* PATH.idx spares reading the file at open; cut at every byte, changed, stale or for
 * another file, it is not used, and the answers stay those of the file. */
START_TEST(index_file_is_only_a_cache)
{
	char idx[200], *good, *jws[5];
	manifest *m = NULL;
	size_t n;

	unlink(path);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	for (size_t i = 0; i < 4; i++) {
		jws[i] = make_record(kms, 0x70b3d57ed0000010ULL + i, 0xc0ffee10ULL + i, "LOT-7");
		ck_assert_int_eq(manifest_append_record(m, jws[i]), LPA_OK);
		if (i == 2)
			ck_assert_int_eq(manifest_append_trailer(m, "LOT-7", station, "station-1"),
					 LPA_OK);
	}
	manifest_close(&m);
	snprintf(idx, sizeof(idx), "%s.idx", path);
	good = tu_slurp(idx, &n);
	idx_assert(jws, 4, 1);
	/* The index is what open reads: a line it covers is not parsed again (the verifier,
	 * not the writer, checks the whole file). */
	{
		size_t len;
		char *file = tu_slurp(path, &len);

		file[0] = 'X';
		tu_spill(path, file, len);
		ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
		ck_assert_uint_eq(manifest_count(m), 4);
		manifest_close(&m);
		file[0] = '{';
		tu_spill(path, file, len);
		free(file);
	}
	for (size_t cut = 0; cut <= n + 2; cut++) {
		char *bad = malloc(n);

		ck_assert_ptr_nonnull(bad);
		memcpy(bad, good, n);
		if (cut < n) {
			tu_spill(idx, bad, cut); /* torn */
		} else {
			bad[(cut - n) * (n / 3) + 5] ^= 0x01; /* one bit changed */
			tu_spill(idx, bad, n);
		}
		idx_assert(jws, 4, 1);
		free(bad);
	}
	/* Stale: the file grew after the index was written (a crash before close). */
	tu_spill(idx, good, n);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	jws[4] = make_record(kms, 0x70b3d57ed0000020ULL, 0xc0ffee20ULL, "LOT-7");
	ck_assert_int_eq(manifest_append_record(m, jws[4]), LPA_OK);
	manifest_close(&m);
	tu_spill(idx, good, n);
	idx_assert(jws, 5, 2);
	/* Another file under the same name: shorter, or as long with other lines. */
	tu_spill(idx, good, n);
	unlink(path);
	ck_assert_int_eq(manifest_open(path, &m), LPA_OK);
	ck_assert_uint_eq(manifest_count(m), 0);
	ck_assert_int_eq(manifest_append_record(m, jws[4]), LPA_OK);
	manifest_close(&m);
	tu_spill(idx, good, n);
	idx_assert(&jws[4], 1, 1);
	for (size_t i = 0; i < 5; i++)
		free(jws[i]);
	free(good);
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
		TU_CASE(duplicate_reported_before_later_bad_line),
		TU_CASE(line_limit_exact),
		TU_CASE(record_payload_limits),
		TU_CASE(trailer_payload_compared_exactly),
		TU_CASE(trailer_kid_checked),
		TU_CASE(empty_trailers_refused),
		TU_CASE(record_kid_required),
		TU_CASE(record_check_refuses_forged_records),
		TU_CASE(json_report_cannot_be_forged),
		TU_CASE(unpinned_needs_saying),
		TU_CASE(truncation_needs_the_kms),
		TU_CASE(foreign_station_record_caught),
		TU_CASE(index_file_is_only_a_cache),
	};

	return tu_main_fixture("manifest", cases, TU_N(cases), setup, teardown);
}
