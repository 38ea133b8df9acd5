/*
 * barrier.c: the barrier state machine; see barrier.h.
 */
#include "barrier.h"

#include "lock.h"

void barrier_boot(struct lock *l)
{
	switch (l->port->endstop_read(l->port->ctx)) {
	case PORT_ENDSTOP_UP:
		l->barrier = PROTO_BARRIER_UP;
		break;
	case PORT_ENDSTOP_DOWN:
		l->barrier = PROTO_BARRIER_DOWN;
		break;
	default:
		l->barrier = PROTO_BARRIER_JAMMED;
		break;
	}
}

void barrier_start(struct lock *l, const struct lock_motion *motion)
{
	bool down = motion->op == PROTO_OP_UNLOCK;

	l->motion = *motion;
	l->motion.active = true;
	l->motion.start_ms = l->port->clock_ms(l->port->ctx);
	l->barrier = down ? PROTO_BARRIER_LOWERING : PROTO_BARRIER_RAISING;
	l->forced_reported = false;
	l->port->motor_drive(l->port->ctx, down ? PORT_MOTOR_DOWN : PORT_MOTOR_UP);
}

static void motion_end(struct lock *l, int status)
{
	struct lock_motion *m = &l->motion;
	bool down = m->op == PROTO_OP_UNLOCK;

	l->port->motor_drive(l->port->ctx, PORT_MOTOR_STOP);
	m->active = false;
	if (status == 0) {
		l->barrier = down ? PROTO_BARRIER_DOWN : PROTO_BARRIER_UP;
		lock_log(l, down ? PROTO_EV_UNLOCKED : PROTO_EV_LOCKED, m->how, m->uses,
			 m->user_id, m->key_id);
	} else {
		l->barrier = PROTO_BARRIER_JAMMED;
		lock_log(l, PROTO_EV_JAMMED, m->op, 0, m->user_id, m->key_id);
	}
	if (m->conn != LOCK_NO_CONN)
		lock_send_result(l, m->conn, m->tag, m->op, status, m->uses_left);
}

static void watch_forcing(struct lock *l)
{
	enum port_endstop es = l->port->endstop_read(l->port->ctx);

	if (l->barrier != PROTO_BARRIER_UP || es == PORT_ENDSTOP_UP || l->forced_reported)
		return;
	l->forced_reported = true;
	l->barrier = es == PORT_ENDSTOP_DOWN ? PROTO_BARRIER_DOWN : PROTO_BARRIER_JAMMED;
	lock_log(l, PROTO_EV_FORCED, 0, 0, 0, 0);
}

/*
 * A car rolled under a rising barrier: stop, tell the requester, and lower it again so
 * that nothing presses on the car.
 */
static void back_off(struct lock *l)
{
	struct lock_motion down = { 0 };

	l->port->motor_drive(l->port->ctx, PORT_MOTOR_STOP);
	l->motion.active = false;
	if (l->motion.conn != LOCK_NO_CONN)
		lock_send_result(l, l->motion.conn, l->motion.tag, l->motion.op,
				 -PROTO_E_OCCUPIED, l->motion.uses_left);
	down.op = PROTO_OP_UNLOCK;
	down.conn = LOCK_NO_CONN;
	down.how = PROTO_HOW_AUTO;
	down.uses_left = PROTO_USES_LEFT_UNLIMITED;
	barrier_start(l, &down);
}

void barrier_tick(struct lock *l)
{
	const struct lock_motion *m = &l->motion;
	enum port_endstop want;
	uint64_t now;

	if (!m->active) {
		watch_forcing(l);
		return;
	}
	if (m->op == PROTO_OP_LOCK && l->port->proximity_read(l->port->ctx)) {
		back_off(l);
		return;
	}
	want = m->op == PROTO_OP_UNLOCK ? PORT_ENDSTOP_DOWN : PORT_ENDSTOP_UP;
	if (l->port->endstop_read(l->port->ctx) == want) {
		motion_end(l, 0);
		return;
	}
	now = l->port->clock_ms(l->port->ctx);
	if (now - m->start_ms >= LOCK_MOTOR_TIMEOUT_MS)
		motion_end(l, -PROTO_E_JAMMED);
}
