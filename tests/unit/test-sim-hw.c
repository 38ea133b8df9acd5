/*
 * test-sim-hw.c: the simulated lock hardware: NOR flash rules (erase to 0xFF, writes
 * only clear bits, bounds), power cuts that tear a write and cut the power, and the
 * barrier's travel, jams and forcing over caller-given time, and when the moving barrier
 * will reach its end stop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "../../lockfw/host/sim-hw.h"

#define PAGE 256
#define PAGES 4

struct fixture {
	struct sim_hw hw;
	uint8_t flash[PAGE * PAGES];
};

static int setup(void **state)
{
	static struct fixture f;

	memset(f.flash, 0xFF, sizeof(f.flash));
	sim_hw_init(&f.hw, f.flash, PAGE, PAGES);
	*state = &f;
	return 0;
}

static void test_write_clears_bits_only(void **state)
{
	struct fixture *f = *state;
	uint8_t a[4] = { 0xF0, 0x0F, 0x00, 0xAA }, b[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
	uint8_t back[4];

	assert_int_equal(sim_hw_flash_write(&f->hw, 8, a, 4), 0);
	assert_int_equal(sim_hw_flash_write(&f->hw, 8, b, 4), -1); /* 0 -> 1 refused */
	assert_int_equal(sim_hw_flash_read(&f->hw, 8, back, 4), 0);
	assert_memory_equal(back, a, 4); /* and nothing was written */
	assert_int_equal(sim_hw_flash_erase(&f->hw, 0), 0);
	assert_int_equal(sim_hw_flash_read(&f->hw, 8, back, 4), 0);
	assert_memory_equal(back, b, 4);
}

static void test_bounds_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t x[2] = { 0, 0 };

	assert_int_equal(sim_hw_flash_write(&f->hw, PAGE * PAGES - 1, x, 2), -1);
	assert_int_equal(sim_hw_flash_read(&f->hw, PAGE * PAGES, x, 1), -1);
	assert_int_equal(sim_hw_flash_erase(&f->hw, PAGES), -1);
	assert_int_equal(f->flash[PAGE * PAGES - 1], 0xFF);
}

static void test_power_cut_tears_the_nth_write(void **state)
{
	struct fixture *f = *state;
	uint8_t data[8] = { 0 }, back[8];

	sim_hw_arm_cut(&f->hw, 2, 3);
	assert_int_equal(sim_hw_flash_write(&f->hw, 0, data, 1), 0); /* 1st: whole */
	assert_int_equal(sim_hw_flash_write(&f->hw, 16, data, 8), -1); /* 2nd: torn */
	assert_false(f->hw.powered);
	assert_int_equal(sim_hw_flash_read(&f->hw, 16, back, 8), -1); /* no power */
	sim_hw_power_on(&f->hw);
	assert_int_equal(sim_hw_flash_read(&f->hw, 16, back, 8), 0);
	assert_int_equal(back[0], 0x00);
	assert_int_equal(back[2], 0x00);
	assert_int_equal(back[5], 0xFF); /* after the tear: untouched */
	assert_int_equal(back[7], 0xFF);
}

static void test_cut_erase_leaves_page(void **state)
{
	struct fixture *f = *state;
	uint8_t zero = 0;

	assert_int_equal(sim_hw_flash_write(&f->hw, PAGE, &zero, 1), 0);
	sim_hw_arm_cut(&f->hw, 1, 0);
	assert_int_equal(sim_hw_flash_erase(&f->hw, 1), -1);
	sim_hw_power_on(&f->hw);
	assert_int_equal(f->flash[PAGE], 0x00);
}

static void test_barrier_travels_between_stops(void **state)
{
	struct fixture *f = *state;

	sim_hw_advance(&f->hw, 1000);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_UP);
	sim_hw_motor_drive(&f->hw, PORT_MOTOR_DOWN);
	sim_hw_advance(&f->hw, 1000 + SIM_HW_TRAVEL_MS / 2);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_NONE);
	sim_hw_advance(&f->hw, 1000 + SIM_HW_TRAVEL_MS);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_DOWN);
	sim_hw_motor_drive(&f->hw, PORT_MOTOR_UP);
	sim_hw_advance(&f->hw, 1000 + 3 * SIM_HW_TRAVEL_MS);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_UP);
}

/* The end stop's moment, for the simulator to tick the core then: none when at rest. */
static void test_endstop_due(void **state)
{
	struct fixture *f = *state;

	sim_hw_advance(&f->hw, 1000);
	assert_true(sim_hw_endstop_due_ms(&f->hw) == UINT64_MAX);
	sim_hw_motor_drive(&f->hw, PORT_MOTOR_DOWN);
	assert_true(sim_hw_endstop_due_ms(&f->hw) == 1000 + SIM_HW_TRAVEL_MS);
	sim_hw_advance(&f->hw, 1000 + SIM_HW_TRAVEL_MS / 4);
	assert_true(sim_hw_endstop_due_ms(&f->hw) == 1000 + SIM_HW_TRAVEL_MS);
	/* Turned back a quarter of the way down: up again by a quarter's travel. */
	sim_hw_motor_drive(&f->hw, PORT_MOTOR_UP);
	assert_true(sim_hw_endstop_due_ms(&f->hw) == 1000 + SIM_HW_TRAVEL_MS / 2);
	sim_hw_advance(&f->hw, 1000 + SIM_HW_TRAVEL_MS);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_UP);
	assert_true(sim_hw_endstop_due_ms(&f->hw) == UINT64_MAX); /* still driven, at its stop */
	sim_hw_motor_drive(&f->hw, PORT_MOTOR_DOWN);
	sim_hw_set_jam(&f->hw, true);
	assert_true(sim_hw_endstop_due_ms(&f->hw) == UINT64_MAX);
	sim_hw_set_jam(&f->hw, false);
	sim_hw_motor_drive(&f->hw, PORT_MOTOR_STOP);
	assert_true(sim_hw_endstop_due_ms(&f->hw) == UINT64_MAX);
}

static void test_jam_stops_travel(void **state)
{
	struct fixture *f = *state;

	sim_hw_advance(&f->hw, 0);
	sim_hw_set_jam(&f->hw, true);
	sim_hw_motor_drive(&f->hw, PORT_MOTOR_DOWN);
	sim_hw_advance(&f->hw, 10 * SIM_HW_TRAVEL_MS);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_UP);
	sim_hw_set_jam(&f->hw, false);
	sim_hw_advance(&f->hw, 12 * SIM_HW_TRAVEL_MS);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_DOWN);
}

static void test_force_down_and_sensors(void **state)
{
	struct fixture *f = *state;

	sim_hw_force_down(&f->hw);
	assert_int_equal(sim_hw_endstop(&f->hw), PORT_ENDSTOP_DOWN);
	sim_hw_set_car(&f->hw, true);
	assert_true(f->hw.car);
	sim_hw_set_battery(&f->hw, 250);
	assert_int_equal(f->hw.battery, 100);
	sim_hw_set_battery(&f->hw, 7);
	assert_int_equal(f->hw.battery, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_write_clears_bits_only, setup),
		cmocka_unit_test_setup(test_bounds_refused, setup),
		cmocka_unit_test_setup(test_power_cut_tears_the_nth_write, setup),
		cmocka_unit_test_setup(test_cut_erase_leaves_page, setup),
		cmocka_unit_test_setup(test_barrier_travels_between_stops, setup),
		cmocka_unit_test_setup(test_endstop_due, setup),
		cmocka_unit_test_setup(test_jam_stops_travel, setup),
		cmocka_unit_test_setup(test_force_down_and_sensors, setup),
	};

	return cmocka_run_group_tests_name("sim-hw", tests, NULL, NULL);
}
