/*
 * The one outcome table (lpa/station/outcome.c): every failure class has a name, advice,
 * the exit code docs/lpa-station.md documents and a line-stop flag; every error code's
 * exit code is its class's, so a command's exit code and its devices' class never
 * disagree (before, two maps did: LPA_ERR_SYSTEM stopped the line as state_error but
 * exited 1).
 */
#include <string.h>

#include "pipeline.h"
#include "station.h"
#include "testutil.h"

/* The documented table (docs/lpa-station.md, "Exit codes"), class by class. */
static const struct {
	enum pipeline_class cls;
	const char *name;
	int exit_code;
	bool stops_line;
} documented[] = {
	{PC_PASS, "pass", 0, false},
	{PC_NO_TARGET, "no_target", 5, false},
	{PC_PROBE_GONE, "probe_gone", 4, false},
	{PC_TARGET, "target_error", 6, false},
	{PC_EXAM, "exam_refused", 11, false},
	{PC_UNTRUSTED, "untrusted_chip", 12, false},
	{PC_KMS_UNREACHABLE, "kms_unreachable", 9, true},
	{PC_AUTH, "not_authorised", 10, true},
	{PC_INSTALL, "install_rejected", 7, false},
	{PC_RECEIPT, "receipt_refused", 13, false},
	{PC_KMS_REFUSED, "kms_refused", 1, false},
	{PC_STATE, "state_error", 15, true},
	{PC_IDENTITY, "identity_mismatch", 12, false},
	{PC_KMS_RECORD, "kms_record_invalid", 16, true},
	{PC_AGENT_FLASH, "agent_flash_failed", 6, false},
};

START_TEST(every_class_as_documented)
{
	ck_assert_uint_eq(sizeof(documented) / sizeof(documented[0]), PC_N);
	for (size_t i = 0; i < PC_N; i++) {
		enum pipeline_class c = documented[i].cls;

		ck_assert_str_eq(pipeline_class_name(c), documented[i].name);
		ck_assert_int_eq(pipeline_class_exit(c), documented[i].exit_code);
		ck_assert_int_eq(pipeline_class_stops_line(c), documented[i].stops_line);
		if (c != PC_PASS)
			ck_assert_uint_gt(strlen(pipeline_class_advice(c)), 10);
		for (size_t k = 0; k < i; k++)
			ck_assert_str_ne(pipeline_class_name(c), documented[k].name);
	}
}
END_TEST

START_TEST(every_error_exits_with_its_class)
{
	for (int err = 0; err > LPA_ERR_LAST; err--) {
		int want = err == LPA_ERR_INVAL ? STATION_EXIT_USAGE
						: pipeline_class_exit(pipeline_classify(err));

		ck_assert_msg(station_exit_for(err) == want, "%s: exit %d, class %s exits %d",
			      lpa_errname(err), station_exit_for(err),
			      pipeline_class_name(pipeline_classify(err)), want);
	}
	/* The cases the two old maps disagreed on, and a few a line script relies on. */
	ck_assert_int_eq(station_exit_for(LPA_ERR_SYSTEM), STATION_EXIT_STATE);
	ck_assert_int_eq(pipeline_class_stops_line(pipeline_classify(LPA_ERR_SYSTEM)), 1);
	ck_assert_int_eq(station_exit_for(LPA_ERR_KMS_UNREACHABLE), STATION_EXIT_KMS_UNREACHABLE);
	ck_assert_int_eq(station_exit_for(LPA_ERR_KMS_RECORD), STATION_EXIT_KMS_RECORD);
	ck_assert_int_eq(station_exit_for(LPA_ERR_AGENT_FLASH), STATION_EXIT_AGENT);
	ck_assert_int_eq(station_exit_for(LPA_ERR_KMS_PROTOCOL), STATION_EXIT_FAILURE);
	ck_assert_int_eq(station_exit_for(LPA_ERR_NO_TARGET), STATION_EXIT_NO_TARGET);
	ck_assert_int_eq(pipeline_classify(LPA_ERR_FLASH), PC_AGENT_FLASH);
}
END_TEST

START_TEST(error_ids_are_stable_names)
{
	char buf[LPA_ERRID_MAX];

	ck_assert_ptr_null(lpa_errid(LPA_OK, buf, sizeof(buf)));
	ck_assert_str_eq(lpa_errid(LPA_ERR_KMS_UNREACHABLE, buf, sizeof(buf)), "kms_unreachable");
	ck_assert_str_eq(lpa_errid(LPA_ERR_AGENT_FLASH, buf, sizeof(buf)), "agent_flash");
	for (int err = -1; err > LPA_ERR_LAST; err--) {
		const char *id = lpa_errid(err, buf, sizeof(buf));

		ck_assert_uint_gt(strlen(id), 1);
		ck_assert_uint_eq(strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_"), strlen(id));
	}
}
END_TEST

int main(void)
{
	const struct tu_case cases[] = {
		TU_CASE(every_class_as_documented),
		TU_CASE(every_error_exits_with_its_class),
		TU_CASE(error_ids_are_stable_names),
	};

	return tu_main("outcome", cases, TU_N(cases));
}
