/*
 * size-probe.c: the lock's one static instance, as firmware would declare it, so that
 * `make bench` can read its static RAM from the object's bss.
 */
#include "../../lockfw/core/lock.h"

struct lock size_probe_lock;
