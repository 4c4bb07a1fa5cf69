/*
 * boot.c — the agent's state at power-on: the chip's facts, the key store, the
 * identity. hal_protect() has run before (main.c): nothing here is visible to the debug
 * port or the CM4 while it happens.
 */
#include <string.h>

#include "agent.h"

void agent_boot(struct agent *a)
{
	memset(a, 0, sizeof(*a));
	a->part = hal_part();
	a->active = -1;
	identity_facts(a);
	keystore_load(a);
	a->ready = identity_load(a);
}
