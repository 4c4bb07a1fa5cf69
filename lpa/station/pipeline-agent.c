/*
 * pipeline-agent.c — the agent step, before the exam's identity step: a chip whose flash
 * holds no secure agent, or an older one than station.conf's [agent] image, gets that
 * image programmed into the CM0+'s flash region (0x10000000), read back, reset, and its
 * first boot awaited (the agent's first GET_STATUS answer; on a chip without an identity
 * record that boot generates the DIK).
 *
 * Journaled as `flashing` before the first flash write and `flashed` after the new agent
 * answered. Nothing reaches the KMS in this step, so a crash in it needs no KMS call: the
 * resume abandons the entry locally, and the chip, examined again, is programmed again
 * (the programming starts with an erase, so a half-written image is simply replaced).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lpa/agent/agent-abi.h"
#include "pipeline-private.h"
#include "station.h"

#define AGENT_INFO_ADDR (AGENT_IMAGE_BASE + AGENT_IMAGE_INFO)
#define AGENT_INFO_LEN 64
/* The first boot of an agent without an identity record generates its DIK on the
 * CM0+ (a P-256 key from the TRNG): seconds, not milliseconds. */
#define AGENT_FIRST_BOOT_MS 20000

/* Why the chip needs the image (into why), or "" when its agent is current. */
static int agent_needs_image(struct pipeline_worker *w, psoc6 *chip, char *why, size_t why_len)
{
	const struct agent_image *img = w->shared->agent;
	uint8_t info[AGENT_INFO_LEN];
	struct lpa_agent_status st;
	uint16_t v;
	int r;

	why[0] = '\0';
	/* The image-info block over SWD first: an erased part answers nothing on IPC, and
	 * asking it would cost the whole call timeout. */
	if ((r = prog_mem_read(w->link, 0, AGENT_INFO_ADDR, info, sizeof(info))) != LPA_OK)
		return r;
	if (memcmp(info, "LPAI", 4) != 0) {
		snprintf(why, why_len, "no secure agent in flash");
		return LPA_OK;
	}
	v = (uint16_t)(info[6] << 8 | info[7]);
	if (v < img->agent_version) {
		snprintf(why, why_len, "secure agent %u.%u older than the configured %u.%u", v >> 8,
			 v & 0xFF, img->agent_version >> 8, img->agent_version & 0xFF);
		return LPA_OK;
	}
	r = psoc6_get_status(chip, &st);
	if (r == LPA_ERR_TIMEOUT) {
		snprintf(why, why_len, "the secure agent in flash (%u.%u) does not answer", v >> 8,
			 v & 0xFF);
		return LPA_OK;
	}
	/* Any other answer (BUSY, a protocol error) is the exam's to judge. */
	return LPA_OK;
}

/* After the reset: the new agent's first GET_STATUS, waited for as long as its first
 * boot may take. The call is not lost while it boots: the notify stays pending. */
static int agent_await_boot(psoc6 *chip, struct lpa_agent_status *st)
{
	uint8_t buf[LPA_STATUS_LEN];
	size_t n = 0;
	int r;

	if ((r = psoc6_agent_call(chip, AGENT_OP_GET_STATUS, NULL, 0, buf, sizeof(buf), &n,
				  AGENT_FIRST_BOOT_MS)) != LPA_OK)
		return r;
	return lpa_status_parse(buf, n, st);
}

int pipeline_agent(struct pipeline_worker *w, psoc6 *chip, struct pipeline_result *res)
{
	const struct pipeline_shared *s = w->shared;
	const struct agent_image *img = s->agent;
	struct lpa_agent_status st;
	uint8_t back[32];
	char why[200], detail[200], hex[65];
	uint32_t sid = 0, bad = 0;
	uint8_t prot = 0;
	uint64_t uid = 0, again = 0;
	int r;

	if (img == NULL)
		return LPA_OK; /* no [agent] image: chips arrive with their agent */
	/* A station killed while it programmed this chip may have left the CM0+ halted
	 * (psoc6_flash_park's window): nothing below would be answered. Best effort: a
	 * chip whose CM0+ cannot be reached is the exam's to judge. */
	(void)psoc6_flash_release(chip);
	/* A part the exam refuses anyway (its life cycle) is left to the exam's words. */
	if (psoc6_silicon_id(chip, &sid, &prot) != LPA_OK || prot > 7 ||
	    (s->policy.allowed_protection & (1u << prot)) == 0)
		return LPA_OK;
	if ((r = psoc6_unique_id(chip, &uid)) != LPA_OK)
		return pipeline_fail(res, pipeline_classify(r), r, "unique ID unreadable: %s",
				     lpa_strerror(r));
	res->chip_uid = uid;
	if ((r = agent_needs_image(w, chip, why, sizeof(why))) != LPA_OK)
		return pipeline_fail(res, pipeline_classify(r), r,
				     "cannot read the agent's image-info block: %s",
				     lpa_strerror(r));
	if (why[0] == '\0')
		return LPA_OK;
	/* An image linked for the other CPUSS map would not even boot. */
	if (psoc6_get_family(chip)->id != (img->part == 1 ? PSOC6_FAMILY_BLE2 : PSOC6_FAMILY_2M))
		return pipeline_fail(res, PC_EXAM, LPA_ERR_UNSUPPORTED,
				     "%s, and the [agent] image is for %s, not this %s", why,
				     agent_image_part_name(img->part),
				     psoc6_get_family(chip)->name);
	pipeline_progress(w, "agent", 2);
	if ((r = pipeline_log(w, J_FLASHING, uid, 0, 0, NULL, NULL, why)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	r = psoc6_flash_write(chip, AGENT_IMAGE_BASE, s->agent_bin, s->agent_bin_len, detail,
			      sizeof(detail));
	if (r != LPA_OK) {
		snprintf(why, sizeof(why), "agent programming failed: %.140s", detail);
		goto fail;
	}
	pipeline_progress(w, "agent", 6);
	r = psoc6_flash_verify(chip, AGENT_IMAGE_BASE, s->agent_bin, s->agent_bin_len, back, &bad);
	if (r == LPA_ERR_MISMATCH) {
		lpa_hex_encode(back, 32, hex);
		snprintf(why, sizeof(why),
			 "agent image reads back wrong from 0x%08x (SHA-256 %.16s...)", bad, hex);
		r = LPA_ERR_FLASH;
		goto fail;
	}
	if (r != LPA_OK) {
		snprintf(why, sizeof(why), "agent image read-back failed: %s", lpa_strerror(r));
		goto fail;
	}
	if ((r = prog_link_reset(w->link)) != LPA_OK) {
		snprintf(why, sizeof(why), "reset after programming the agent failed: %s",
			 lpa_strerror(r));
		goto fail;
	}
	pipeline_progress(w, "agent", 8);
	/* Still the same chip: what follows is journaled under this UID. */
	if ((r = psoc6_unique_id(chip, &again)) != LPA_OK || again != uid) {
		snprintf(why, sizeof(why), "the chip changed during the agent step (%s)",
			 r != LPA_OK ? lpa_strerror(r) : "another UID after the reset");
		r = r != LPA_OK ? r : LPA_ERR_MISMATCH;
		goto fail;
	}
	if ((r = agent_await_boot(chip, &st)) != LPA_OK) {
		snprintf(why, sizeof(why),
			 "the programmed agent did not answer after its reset: %s",
			 lpa_strerror(r));
		goto fail;
	}
	if (st.agent_version != img->agent_version) {
		snprintf(why, sizeof(why),
			 "the programmed agent reports version %u.%u, the image is %u.%u",
			 st.agent_version >> 8, st.agent_version & 0xFF, img->agent_version >> 8,
			 img->agent_version & 0xFF);
		r = LPA_ERR_FLASH;
		goto fail;
	}
	if ((r = pipeline_log(w, J_FLASHED, uid, 0, 0, NULL, NULL, NULL)) != LPA_OK)
		return pipeline_fail(res, PC_STATE, r, "cannot write the journal: %s",
				     lpa_strerror(r));
	res->agent_programmed = true;
	return LPA_OK;
fail:
	/* Nothing was issued: abandoning is local. Whatever stopped the programming (an
	 * SROM status, a read-back, a chip that browned out mid-row) leaves the chip without
	 * a working agent: agent_flash_failed, unless the probe itself went away. */
	(void)pipeline_log(w, J_ABANDONED, uid, 0, 0, NULL, NULL, why);
	return pipeline_fail(res, r == LPA_ERR_PROBE_GONE ? PC_PROBE_GONE : PC_AGENT_FLASH, r, "%s",
			     why);
}
