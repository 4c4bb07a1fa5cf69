/*
 * outcome.c — the one outcome table: an error becomes a failure class (pipeline_classify),
 * a class has its name for JSON and the screen, its exit code, whether it stops the line,
 * and what the operator should do. station_exit_for is this table too, so the exit code of
 * a command and the class of its device cannot disagree (docs/lpa-station.md "Exit codes";
 * test-outcome checks every class and every error code).
 */
#include "pipeline.h"
#include "station.h"

static const struct {
	const char *name;
	int exit_code;   /* what a command that ends on this class exits with */
	bool stops_line; /* every further device would fail the same way */
	const char *advice;
} pipeline_classes[PC_N] = {
	[PC_PASS] = {"pass", STATION_EXIT_OK, false, ""},
	[PC_NO_TARGET] = {"no_target", STATION_EXIT_NO_TARGET, false,
			  "seat the chip in the socket and check the cable"},
	[PC_PROBE_GONE] = {"probe_gone", STATION_EXIT_NO_PROBE, false,
			   "reconnect the probe's USB cable"},
	[PC_TARGET] = {"target_error", STATION_EXIT_TARGET, false,
		       "reseat the chip; if it repeats, set the chip aside"},
	[PC_EXAM] = {"exam_refused", STATION_EXIT_EXAM, false,
		     "set the chip aside for engineering (see the reason)"},
	[PC_UNTRUSTED] = {"untrusted_chip", STATION_EXIT_UNTRUSTED, false,
			  "quarantine the chip: its identity is not trusted"},
	[PC_KMS_UNREACHABLE] = {"kms_unreachable", STATION_EXIT_KMS_UNREACHABLE, true,
				"check the network to the KMS, then resume the lot"},
	[PC_AUTH] = {"not_authorised", STATION_EXIT_AUTH, true, "log in again (lpa-station login)"},
	[PC_INSTALL] = {"install_rejected", STATION_EXIT_AGENT, false,
			"set the chip aside; the KMS attempt was abandoned"},
	[PC_RECEIPT] = {"receipt_refused", STATION_EXIT_RECEIPT, false,
			"set the chip aside; the KMS attempt was abandoned"},
	[PC_KMS_REFUSED] = {"kms_refused", STATION_EXIT_FAILURE, false,
			    "call the line supervisor (see the reason)"},
	[PC_STATE] = {"state_error", STATION_EXIT_STATE, true,
		      "stop the line: the station cannot write its records"},
	[PC_IDENTITY] = {"identity_mismatch", STATION_EXIT_UNTRUSTED, false,
			 "quarantine the chip: its agent reports another chip's identity"},
	[PC_KMS_RECORD] = {"kms_record_invalid", STATION_EXIT_KMS_RECORD, true,
			   "stop the line: the KMS's record fails the pinned keys; call the KMS "
			   "administrator, then resume the lot"},
	[PC_AGENT_FLASH] = {"agent_flash_failed", STATION_EXIT_TARGET, false,
			    "set the chip aside: its flash could not be programmed with the "
			    "secure agent"},
};

const char *pipeline_class_name(enum pipeline_class c)
{
	return c < PC_N ? pipeline_classes[c].name : "unknown";
}

const char *pipeline_class_advice(enum pipeline_class c)
{
	return c < PC_N ? pipeline_classes[c].advice : "";
}

enum pipeline_class pipeline_classify(int err)
{
	switch (err) {
	case LPA_OK:
		return PC_PASS;
	case LPA_ERR_NO_TARGET:
		return PC_NO_TARGET;
	case LPA_ERR_PROBE_GONE:
	case LPA_ERR_NOT_FOUND:
		return PC_PROBE_GONE;
	case LPA_ERR_FAULT:
	case LPA_ERR_WAIT:
	case LPA_ERR_PROTOCOL:
	case LPA_ERR_TIMEOUT:
	case LPA_ERR_UNSUPPORTED:
		return PC_TARGET;
	case LPA_ERR_STATE:
	case LPA_ERR_MISMATCH:
		return PC_EXAM;
	case LPA_ERR_KMS_UNTRUSTED:
	case LPA_ERR_AGENT_NO_CERT:   /* certified, it said, yet no certificate */
	case LPA_ERR_AGENT_CERT_KEY:  /* the KMS certified another key than the chip's */
	case LPA_ERR_AGENT_CERTIFIED: /* another certificate than the KMS's */
		return PC_UNTRUSTED;
	case LPA_ERR_KMS_UNREACHABLE:
	case LPA_ERR_KMS_SERVER:
		return PC_KMS_UNREACHABLE;
	case LPA_ERR_KMS_AUTH:
		return PC_AUTH;
	case LPA_ERR_KMS_RECEIPT:
		return PC_RECEIPT;
	case LPA_ERR_KMS_REFUSED:
	case LPA_ERR_KMS_PROTOCOL:
		return PC_KMS_REFUSED;
	case LPA_ERR_KMS_RECORD:
		return PC_KMS_RECORD;
	case LPA_ERR_SYSTEM:
		return PC_STATE;
	case LPA_ERR_FLASH:
		return PC_AGENT_FLASH;
	default:
		/* Agent statuses: the chip rejected the package. */
		if (err == LPA_ERR_SIGNATURE || err == LPA_ERR_WRONG_CHIP || err == LPA_ERR_STALE ||
		    err == LPA_ERR_UNWRAP || err == LPA_ERR_NWKKEY ||
		    (err <= LPA_ERR_AGENT_REQUEST && err >= LPA_ERR_AGENT_UNKNOWN))
			return PC_INSTALL;
		return PC_TARGET;
	}
}

bool pipeline_class_stops_line(enum pipeline_class c)
{
	return c < PC_N && pipeline_classes[c].stops_line;
}

int pipeline_class_exit(enum pipeline_class c)
{
	return c < PC_N ? pipeline_classes[c].exit_code : STATION_EXIT_FAILURE;
}

int station_exit_for(int err)
{
	/* A bad argument is no device outcome: the command line or the configuration. */
	if (err == LPA_ERR_INVAL)
		return STATION_EXIT_USAGE;
	return pipeline_class_exit(pipeline_classify(err));
}
