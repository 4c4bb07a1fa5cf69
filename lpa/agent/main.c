/*
 * main.c — the firmware's life after startup.c has closed the protection units and
 * set up its RAM: the key store and the identity, then the CM4 application, then the
 * mailbox loop forever. The loop polls; the firmware takes no interrupts of its own
 * (the NMI through which the SROM serves calls is the boot ROM's).
 */
#include "agent.h"

void agent_main(void) __attribute__((noreturn));

static struct agent agent;

void agent_main(void)
{
	agent_boot(&agent);
	hal_start_cm4();
	for (;;)
		(void)agent_poll(&agent);
}
