/*
 * transport.c: picks a transport by its configured kind, and the sentences for the
 * transport errors; see transport.h.
 */
#include "transport.h"

#include <errno.h>
#include <string.h>

struct transport *transport_new(const struct transport_config *cfg)
{
	const char *kind = cfg != NULL && cfg->kind != NULL ? cfg->kind : "sim";

	if (strcmp(kind, "sim") == 0)
		return transport_sim_new();
	if (strcmp(kind, "bluez") == 0)
		return transport_bluez_new(cfg->bus, cfg->adapter);
	errno = EINVAL;
	return NULL;
}

void transport_free(struct transport *t)
{
	if (t != NULL)
		t->ops->destroy(t);
}

const char *transport_strerror(int err)
{
	switch (-err) {
	case TRANSPORT_E_IO: return "the link failed (a system or bus call failed)";
	case TRANSPORT_E_CLOSED: return "the lock closed the link";
	case TRANSPORT_E_PROTO: return "the lock broke the transport's framing";
	case TRANSPORT_E_SPACE: return "a fragment does not fit";
	case TRANSPORT_E_TIMEOUT: return "the lock did not answer in time";
	case TRANSPORT_E_NOTFOUND: return "no such lock in reach";
	default: return "unknown transport error";
	}
}
