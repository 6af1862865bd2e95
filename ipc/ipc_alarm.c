/*
 * ipc_alarm.c — the one alarm rule both sides of the protocol apply.
 */
#include "ipc.h"

/*
 * A repeating alarm keeps its phase: the next occurrence after a run is
 * counted from the time it was scheduled for, not from when it ran, and
 * occurrences missed entirely (durod was down for several periods) are
 * skipped rather than fired in a burst.
 */
uint64_t
ipc_alarm_next(uint64_t scheduled, uint64_t every, uint64_t now)
{
	uint64_t k;

	if (every == 0)
		return (0);
	if (scheduled > now)
		k = 1;
	else
		k = (now - scheduled) / every + 1;
	if (k > (IPC_MAX_TIME_MS - scheduled) / every)
		return (IPC_MAX_TIME_MS);
	return (scheduled + k * every);
}
