/* pipeline-private.h — what pipeline.c shares with the steps in their own files
 * (pipeline-agent.c). */
#ifndef LPA_STATION_PIPELINE_PRIVATE_H
#define LPA_STATION_PIPELINE_PRIVATE_H

#include "agent-image.h"
#include "pipeline.h"

/* Journals one step of a device under the shared lock. */
int pipeline_log(struct pipeline_worker *w, enum journal_step step, uint64_t uid, uint64_t dev_eui,
		 uint32_t counter, const char *receipt, const char *record, const char *reason);
/* Sets res's class, error and reason; returns err. */
int pipeline_fail(struct pipeline_result *res, enum pipeline_class cls, int err, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
void pipeline_progress(struct pipeline_worker *w, const char *step, unsigned pct);
/* The agent step (pipeline-agent.c): LPA_OK when nothing is configured, the chip's agent
 * is current, the exam will refuse the chip anyway, or the image was programmed now
 * (res->agent_programmed); otherwise res says why the chip failed. */
int pipeline_agent(struct pipeline_worker *w, psoc6 *chip, struct pipeline_result *res);

#endif
