/*
 * The pipeline's own checks that need no chip or KMS: the LPI1-vs-SFlash UID cross-check
 * (red team: the station never compared them) and the failure classes it reports.
 * The simulator's chips cannot disagree with themselves, so the mismatch is driven here
 * with LPI1 records parsed by the real lpa_lpi1_parse.
 */
#include "pipeline.h"
#include "testutil.h"

/* A minimal LPI1 (docs/protocols.md) naming chip_uid, with a curve point for a DIK. */
static void lpi1_for(uint64_t chip_uid, struct lpa_lpi1 *id)
{
	uint8_t raw[LPA_LPI1_MAX_LEN] = {'L', 'P', 'I', '1', 1, 0, 2, 0};
	EVP_PKEY *k = NULL;

	lpa_be_put(raw + 8, chip_uid, 8);
	lpa_be_put(raw + 16, 0xe2072100, 4);
	ck_assert_int_eq(lpa_p256_generate(&k), LPA_OK);
	ck_assert_int_eq(lpa_p256_public_bytes(k, raw + 24), LPA_OK);
	lpa_be_put(raw + 89, 1, 2);
	raw[91] = 0x30;
	ck_assert_int_eq(lpa_lpi1_parse(raw, 92, id), LPA_OK);
	lpa_pkey_free(&k);
}

START_TEST(lpi1_uid_must_be_the_sflash_uid)
{
	struct lpa_lpi1 id;
	char why[160] = "";

	lpi1_for(0x0f2a1b3c4d5e6f70ULL, &id);
	ck_assert_int_eq(pipeline_identity_check(0x0f2a1b3c4d5e6f70ULL, &id, why, sizeof(why)),
			 LPA_OK);
	ck_assert_int_eq(pipeline_identity_check(0x0f2a1b3c4d5e6f71ULL, &id, why, sizeof(why)),
			 LPA_ERR_MISMATCH);
	ck_assert_ptr_nonnull(strstr(why, "0f2a1b3c4d5e6f70"));
	ck_assert_ptr_nonnull(strstr(why, "0f2a1b3c4d5e6f71"));
}
END_TEST

START_TEST(new_classes_named_and_stop_the_line)
{
	ck_assert_str_eq(pipeline_class_name(PC_IDENTITY), "identity_mismatch");
	ck_assert_str_eq(pipeline_class_name(PC_KMS_RECORD), "kms_record_invalid");
	ck_assert_int_eq(pipeline_classify(LPA_ERR_KMS_RECORD), PC_KMS_RECORD);
	ck_assert(pipeline_class_stops_line(PC_KMS_RECORD));
	ck_assert(!pipeline_class_stops_line(PC_IDENTITY)); /* one chip: quarantine it */
	ck_assert(pipeline_class_advice(PC_IDENTITY)[0] != '\0');
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(lpi1_uid_must_be_the_sflash_uid),
		TU_CASE(new_classes_named_and_stop_the_line),
	};

	return tu_main("pipeline", cases, TU_N(cases));
}
