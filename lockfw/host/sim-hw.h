/*
 * sim-hw.h: the simulated hardware of one lock: NOR flash with power cuts, the barrier
 * motor with its end stops (travel time, jams, a barrier forced down by hand), the
 * proximity sensor and the battery.
 *
 * Time is always passed in by the caller (milliseconds on any monotonic origin), so the
 * same model runs under parklockd's real clock and under the tests' stepped clock. The
 * flash bytes live in memory the caller provides (parklockd maps its flash file there).
 */
#ifndef PARK_SIM_HW_H
#define PARK_SIM_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../port/port.h"

#define SIM_HW_TRAVEL_MS 300 /* default end-stop to end-stop time of the barrier */

struct sim_hw {
	/* flash */
	uint8_t *flash;     /* page_size * pages bytes, owned by the caller */
	uint32_t page_size;
	uint32_t pages;
	uint64_t flash_writes; /* writes and erases so far (each counts once) */
	bool cut_armed;      /* a power cut is due */
	uint64_t cut_at_op;  /* ... at this value of flash_writes (the op that will be torn) */
	size_t cut_byte;     /* ... after this many bytes of it were programmed */
	bool powered;        /* false after a power cut until sim_hw_power_on() */

	/* barrier */
	enum port_motor motor;
	uint64_t motor_since_ms;
	uint32_t travel_ms;
	uint32_t position_ms; /* 0 = fully up, travel_ms = fully down */
	bool jam;             /* the barrier is blocked: the motor turns, nothing moves */
	bool forced;          /* pushed down by hand; cleared by the next motor move */
	uint64_t now_ms;      /* last time given to sim_hw_advance() */

	/* sensors */
	bool car;
	uint8_t battery;
};

/*
 * Prepares a model with the flash at `flash` (page_size * pages bytes, which the caller
 * either keeps from an earlier run or has filled with 0xFF), the barrier up, no car and
 * a full battery.
 */
void sim_hw_init(struct sim_hw *hw, uint8_t *flash, uint32_t page_size, uint32_t pages);

/* Moves the barrier for the time elapsed up to now_ms. Call before reading end stops. */
void sim_hw_advance(struct sim_hw *hw, uint64_t now_ms);

/*
 * Arms a power cut: the `nth` flash operation from now (1 = the next one) programs only
 * its first `byte` bytes (an erase is cut before it starts), and then power is lost:
 * that and every later flash call fail until sim_hw_power_on().
 */
void sim_hw_arm_cut(struct sim_hw *hw, uint64_t nth, size_t byte);
void sim_hw_power_on(struct sim_hw *hw);

/* Flash calls with the port table's contract (NOR: a write may only clear bits). */
int sim_hw_flash_read(struct sim_hw *hw, uint32_t addr, uint8_t *buf, size_t len);
int sim_hw_flash_write(struct sim_hw *hw, uint32_t addr, const uint8_t *buf, size_t len);
int sim_hw_flash_erase(struct sim_hw *hw, uint32_t page);

void sim_hw_motor_drive(struct sim_hw *hw, enum port_motor dir);
enum port_endstop sim_hw_endstop(const struct sim_hw *hw);

/*
 * When the moving barrier will reach the end stop it is driven to, on sim_hw_advance()'s
 * clock: the moment a real lock's end-stop switch would interrupt its MCU. UINT64_MAX
 * when none will (the motor stopped, jammed, or already at that stop).
 */
uint64_t sim_hw_endstop_due_ms(const struct sim_hw *hw);

/* World actions. */
void sim_hw_set_car(struct sim_hw *hw, bool present);
void sim_hw_set_battery(struct sim_hw *hw, uint8_t percent); /* clamped to 100 */
void sim_hw_set_jam(struct sim_hw *hw, bool jammed);
void sim_hw_force_down(struct sim_hw *hw); /* someone pushes the raised barrier down */

#endif
