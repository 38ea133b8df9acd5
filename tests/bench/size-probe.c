/*
 * size-probe.c: the lock core as firmware would link it, for `make bench`: one static
 * `struct lock`, and an entry point that reaches every public call of the core, so
 * that a link with --gc-sections keeps exactly the code a lock needs. The board's port
 * table is left undefined: it is the port's, not the core's.
 */
#include "../../lockfw/core/lock.h"

struct lock size_probe_lock;
extern const struct port size_probe_port;
int size_probe_main(void);

int size_probe_main(void)
{
	static const uint8_t frag[20] = { 0 };
	struct lock_state st;

	lock_boot(&size_probe_lock, &size_probe_port);
	lock_connect(&size_probe_lock, 0);
	lock_receive(&size_probe_lock, 0, frag, sizeof(frag));
	lock_tick(&size_probe_lock);
	lock_get_state(&size_probe_lock, &st);
	lock_disconnect(&size_probe_lock, 0);
	return (int)lock_next_tick_ms(&size_probe_lock) + (int)lock_time(&size_probe_lock) +
	       st.battery;
}
