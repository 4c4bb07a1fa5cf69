/*
 * screen.h — the operator's screen for `lpa-station run` on a terminal (ncurses): one
 * tile per probe with a large coloured PASS or FAIL, the DevEUI, the step in progress,
 * what to do on FAIL and the acknowledgement that frees the slot; shift counters with
 * yield; a banner for line-wide conditions (KMS outage, session about to expire,
 * stopping). Workers only change the model; one UI thread owns the terminal, so nothing
 * else may write to it while the screen is up (stderr is captured into its message area).
 */
#ifndef LPA_STATION_SCREEN_H
#define LPA_STATION_SCREEN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lpa/core/lpa-core.h"
#include "pipeline.h"

struct screen;

/* Whether the screen can be used: stdin and stdout are a terminal that terminfo knows. */
bool screen_usable(void);

/* Takes the terminal. `stop` is the shift's stop flag (set by SIGINT/SIGTERM): the
 * screen shows at once that the shift is finishing. */
int screen_open(struct screen **out, const char *lot, const char *const *serials, size_t n,
		volatile sig_atomic_t *stop);
/* Gives the terminal back and prints what the message area held. */
void screen_close(struct screen **s);

/* A device started or moved on: step name and percent. */
void screen_progress(struct screen *s, size_t slot, const char *step, unsigned pct);
/* A device ended (slot SIZE_MAX: a device of a probe this shift does not drive). */
void screen_result(struct screen *s, size_t slot, const struct pipeline_result *r);
/* The slot waits for a chip, keeping its last result on show. */
void screen_waiting(struct screen *s, size_t slot);
/* The probe of the slot disappeared (true) or came back (false). */
void screen_disconnected(struct screen *s, size_t slot, bool gone);
/* Blocks until the operator acknowledged the slot's FAIL (its key), or the shift stops
 * (false). */
bool screen_acknowledge(struct screen *s, size_t slot);
/* A line-wide condition on show until cleared (NULL). */
void screen_banner(struct screen *s, const char *msg);
/* The operator session's end, announced ten minutes ahead. */
void screen_session_expiry(struct screen *s, time_t expires_at);

/*
 * Logging in again without ending the shift: the operator presses SCREEN_LOGIN_KEY_NAME,
 * types the operator name (the current one is offered), the password and the TOTP code
 * in the screen (neither echoed), and fn is called with them on a thread of its own while
 * the screen goes on; it returns LPA_OK or an error with msg for the operator. Without
 * this call the key does nothing.
 */
#define SCREEN_LOGIN_KEY_NAME "F2"
typedef int (*screen_login_fn)(void *ctx, const char *operator_name, const lpa_secbuf *password,
			       const lpa_secbuf *totp, char *msg, size_t msg_len);
void screen_set_login(struct screen *s, screen_login_fn fn, void *ctx, const char *operator_name);
/* Devices in progress right now (shown while the shift finishes). */
unsigned screen_in_flight(struct screen *s);

#endif
