/*
 * sim-hw.c: the simulated lock hardware of sim-hw.h: NOR flash semantics and power-cut
 * injection over caller memory, the barrier's travel over caller-supplied time, and the
 * sensors. Owns no memory and reads no clock; the port around it (port-host.c,
 * tests/support/test-port.c) does both.
 */
#include "sim-hw.h"

#include <string.h>

void sim_hw_init(struct sim_hw *hw, uint8_t *flash, uint32_t page_size, uint32_t pages)
{
	memset(hw, 0, sizeof(*hw));
	hw->flash = flash;
	hw->page_size = page_size;
	hw->pages = pages;
	hw->powered = true;
	hw->motor = PORT_MOTOR_STOP;
	hw->travel_ms = SIM_HW_TRAVEL_MS;
	hw->position_ms = 0;
	hw->battery = 100;
}

static uint64_t flash_size(const struct sim_hw *hw)
{
	return (uint64_t)hw->page_size * hw->pages;
}

static bool in_range(const struct sim_hw *hw, uint32_t addr, size_t len)
{
	uint64_t size = flash_size(hw);

	return hw->flash != NULL && addr <= size && (uint64_t)len <= size - addr;
}

/* Counts a write or an erase; true when it is the one to be torn. */
static bool op_is_cut(struct sim_hw *hw)
{
	hw->flash_writes++;
	if (!hw->cut_armed || hw->flash_writes != hw->cut_at_op)
		return false;
	hw->cut_armed = false;
	hw->powered = false;
	return true;
}

void sim_hw_arm_cut(struct sim_hw *hw, uint64_t nth, size_t byte)
{
	hw->cut_armed = true;
	hw->cut_at_op = hw->flash_writes + (nth > 0 ? nth : 1);
	hw->cut_byte = byte;
}

void sim_hw_power_on(struct sim_hw *hw)
{
	/* A cut armed for an operation that never came does not outlive the power cycle. */
	hw->cut_armed = false;
	hw->powered = true;
}

int sim_hw_flash_read(struct sim_hw *hw, uint32_t addr, uint8_t *buf, size_t len)
{
	if (!hw->powered || !in_range(hw, addr, len) || (buf == NULL && len > 0))
		return -1;
	if (len > 0)
		memcpy(buf, hw->flash + addr, len);
	return 0;
}

int sim_hw_flash_write(struct sim_hw *hw, uint32_t addr, const uint8_t *buf, size_t len)
{
	uint8_t *dst;
	size_t i, n;

	if (!hw->powered || !in_range(hw, addr, len) || (buf == NULL && len > 0))
		return -1;
	dst = hw->flash + addr;
	for (i = 0; i < len; i++)
		if (buf[i] & ~dst[i])
			return -1; /* NOR programs 1 -> 0 only; refuse before touching anything */
	if (!op_is_cut(hw)) {
		for (i = 0; i < len; i++)
			dst[i] &= buf[i];
		return 0;
	}
	n = hw->cut_byte < len ? hw->cut_byte : len;
	for (i = 0; i < n; i++)
		dst[i] &= buf[i];
	/* The byte being programmed when power went: only its high nibble made it. */
	if (n < len)
		dst[n] &= (uint8_t)(buf[n] | 0x0F);
	return -1;
}

int sim_hw_flash_erase(struct sim_hw *hw, uint32_t page)
{
	if (!hw->powered || hw->flash == NULL || page >= hw->pages)
		return -1;
	if (op_is_cut(hw))
		return -1;
	memset(hw->flash + (size_t)page * hw->page_size, 0xFF, hw->page_size);
	return 0;
}

void sim_hw_advance(struct sim_hw *hw, uint64_t now_ms)
{
	uint64_t dt;

	if (now_ms <= hw->now_ms)
		return;
	dt = now_ms - hw->now_ms;
	hw->now_ms = now_ms;
	if (hw->jam)
		return;
	if (hw->motor == PORT_MOTOR_DOWN)
		hw->position_ms = hw->position_ms >= hw->travel_ms ||
			dt >= hw->travel_ms - hw->position_ms ?
			hw->travel_ms : hw->position_ms + (uint32_t)dt;
	else if (hw->motor == PORT_MOTOR_UP)
		hw->position_ms = dt >= hw->position_ms ? 0 : hw->position_ms - (uint32_t)dt;
}

void sim_hw_motor_drive(struct sim_hw *hw, enum port_motor dir)
{
	if (dir != PORT_MOTOR_STOP)
		hw->forced = false;
	if (dir != hw->motor)
		hw->motor_since_ms = hw->now_ms;
	hw->motor = dir;
}

enum port_endstop sim_hw_endstop(const struct sim_hw *hw)
{
	if (hw->position_ms == 0)
		return PORT_ENDSTOP_UP;
	if (hw->position_ms >= hw->travel_ms)
		return PORT_ENDSTOP_DOWN;
	return PORT_ENDSTOP_NONE;
}

uint64_t sim_hw_endstop_due_ms(const struct sim_hw *hw)
{
	if (hw->jam)
		return UINT64_MAX;
	if (hw->motor == PORT_MOTOR_DOWN && hw->position_ms < hw->travel_ms)
		return hw->now_ms + (hw->travel_ms - hw->position_ms);
	if (hw->motor == PORT_MOTOR_UP && hw->position_ms > 0)
		return hw->now_ms + hw->position_ms;
	return UINT64_MAX;
}

void sim_hw_set_car(struct sim_hw *hw, bool present)
{
	hw->car = present;
}

void sim_hw_set_battery(struct sim_hw *hw, uint8_t percent)
{
	hw->battery = percent > 100 ? 100 : percent;
}

void sim_hw_set_jam(struct sim_hw *hw, bool jammed)
{
	hw->jam = jammed;
}

void sim_hw_force_down(struct sim_hw *hw)
{
	hw->position_ms = hw->travel_ms;
	hw->forced = true;
}
