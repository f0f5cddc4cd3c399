/* Timer wheel tests (dataplane/dp_timer.h): what fires, when, and that the same entries
 * fire at the same tick times however the clock is advanced (what a pcap replay needs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dp_timer.h"

#define MS(x) ((uint64_t)(x) * 1000)
#define T0 MS(1700000000000ull) /* an absolute clock far from zero, like the daemon's */

struct fired {
	uint32_t e;
	uint64_t t;
};

struct rec {
	struct fired *ev;
	size_t n, cap;
	struct dp_tw *tw;
	uint64_t period;  /* > 0: re-arm each entry period * (e % 7 + 1) after it fires */
	uint32_t rearm_left;
};

static void on_fire(void *ctx, uint32_t e, uint64_t now)
{
	struct rec *r = ctx;

	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
		assert_non_null(r->ev);
	}
	r->ev[r->n++] = (struct fired){e, now};
	if (r->period && r->rearm_left) {
		r->rearm_left--;
		dp_tw_arm(r->tw, e, now + r->period * (e % 7 + 1) + (e % 3) * 333);
	}
}

struct wheel {
	struct dp_tw tw;
	struct dp_tw_link *links;
	struct rec r;
};

static struct wheel *wheel_new(uint32_t n, uint64_t now)
{
	struct wheel *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->links = calloc(n, sizeof(*w->links));
	assert_non_null(w->links);
	dp_tw_init(&w->tw, w->links, n, now);
	w->r.tw = &w->tw;
	return w;
}

static void wheel_free(struct wheel *w)
{
	free(w->r.ev);
	free(w->links);
	free(w);
}

static uint32_t adv(struct wheel *w, uint64_t now)
{
	return dp_tw_advance(&w->tw, now, UINT32_MAX, on_fire, &w->r);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* When an entry armed for t while the wheel has processed tick `tick` must fire: the first
 * tick boundary at or after t, and never in a tick already processed. Written from the
 * header's contract, not from its code. */
static uint64_t expect_fire(uint64_t t, uint64_t tick)
{
	uint64_t k = t / DP_TW_TICK_US + (t % DP_TW_TICK_US != 0);

	if (k <= tick)
		k = tick + 1;
	return k * DP_TW_TICK_US;
}

static void test_arm_cancel_rearm(void **st)
{
	struct wheel *w = wheel_new(4, T0);

	(void)st;
	dp_tw_arm(&w->tw, 0, T0 + MS(5));
	assert_int_equal(w->tw.armed, 1);
	dp_tw_cancel(&w->tw, 0);
	assert_int_equal(w->tw.armed, 0);
	dp_tw_cancel(&w->tw, 0); /* cancelling twice is harmless */
	assert_int_equal(w->tw.armed, 0);
	assert_int_equal(adv(w, T0 + MS(10)), 0);
	assert_int_equal(w->r.n, 0);

	/* re-arming moves the entry: it fires once, at the new time */
	dp_tw_arm(&w->tw, 1, T0 + MS(15));
	dp_tw_arm(&w->tw, 1, T0 + MS(12));
	dp_tw_arm(&w->tw, 2, T0 + MS(13));
	dp_tw_arm(&w->tw, 2, T0 + MS(20));
	assert_int_equal(w->tw.armed, 2);
	assert_int_equal(adv(w, T0 + MS(11) + 999), 0);
	assert_int_equal(adv(w, T0 + MS(12)), 1);
	assert_int_equal(w->r.ev[0].e, 1);
	assert_int_equal(w->r.ev[0].t, T0 + MS(12));
	assert_int_equal(adv(w, T0 + MS(19)), 0);
	assert_int_equal(adv(w, T0 + MS(30)), 1);
	assert_int_equal(w->r.ev[1].e, 2);
	assert_int_equal(w->r.ev[1].t, T0 + MS(20));
	assert_int_equal(w->tw.armed, 0);
	/* arming with UINT64_MAX disarms */
	dp_tw_arm(&w->tw, 3, T0 + MS(40));
	dp_tw_arm(&w->tw, 3, UINT64_MAX);
	assert_int_equal(w->tw.armed, 0);
	assert_int_equal(adv(w, T0 + MS(100)), 0);
	/* a time between ticks is rounded up to the next tick */
	dp_tw_arm(&w->tw, 0, T0 + MS(107) + 1);
	assert_int_equal(adv(w, T0 + MS(107) + 999), 0);
	assert_int_equal(adv(w, T0 + MS(108)), 1);
	assert_int_equal(w->r.ev[2].t, T0 + MS(108));
	wheel_free(w);
}

static void test_many_in_one_slot(void **st)
{
	enum { N = 300 };
	struct wheel *w = wheel_new(N, T0);
	uint32_t seen[N] = {0};

	(void)st;
	/* a third at t, a third one turn later, a third two turns later: all in one slot */
	for (uint32_t e = 0; e < N; e++)
		dp_tw_arm(&w->tw, e, T0 + MS(50) + (e % 3) * MS(DP_TW_SLOTS));
	/* cancel from the tail, the middle and the head of the slot's list */
	dp_tw_cancel(&w->tw, 0);
	dp_tw_cancel(&w->tw, 151); /* one per group: 0, 151 and 299 are 0, 1, 2 mod 3 */
	dp_tw_cancel(&w->tw, N - 1);
	assert_int_equal(w->tw.armed, N - 3);
	assert_int_equal(adv(w, T0 + MS(50)), N / 3 - 1);
	for (uint32_t k = 1; k < 3; k++) {
		assert_int_equal(adv(w, T0 + MS(50) + k * MS(DP_TW_SLOTS) - 1), 0);
		assert_int_equal(adv(w, T0 + MS(50) + k * MS(DP_TW_SLOTS)), N / 3 - 1);
	}
	for (size_t i = 0; i < w->r.n; i++) {
		uint32_t e = w->r.ev[i].e;
		assert_int_equal(w->r.ev[i].t, T0 + MS(50) + (e % 3) * MS(DP_TW_SLOTS));
		seen[e]++;
	}
	for (uint32_t e = 0; e < N; e++)
		assert_int_equal(seen[e], (e == 0 || e == 151 || e == N - 1) ? 0 : 1);
	assert_int_equal(w->tw.armed, 0);
	wheel_free(w);
}

static void test_beyond_one_turn(void **st)
{
	struct wheel *w = wheel_new(3, T0);
	uint64_t t;

	(void)st;
	/* 30 s is 7.3 turns of 4096 ms: the slot comes round 7 times before it is due */
	dp_tw_arm(&w->tw, 0, T0 + MS(30000));
	dp_tw_arm(&w->tw, 1, T0 + MS(DP_TW_SLOTS));     /* exactly one turn */
	dp_tw_arm(&w->tw, 2, T0 + MS(DP_TW_SLOTS + 1)); /* one turn and a tick */
	for (t = T0 + MS(1); t <= T0 + MS(31000); t += MS(1))
		adv(w, t);
	assert_int_equal(w->r.n, 3);
	assert_int_equal(w->r.ev[0].e, 1);
	assert_int_equal(w->r.ev[0].t, T0 + MS(DP_TW_SLOTS));
	assert_int_equal(w->r.ev[1].e, 2);
	assert_int_equal(w->r.ev[1].t, T0 + MS(DP_TW_SLOTS + 1));
	assert_int_equal(w->r.ev[2].e, 0);
	assert_int_equal(w->r.ev[2].t, T0 + MS(30000));
	wheel_free(w);
}

static void test_past_fires_next_tick(void **st)
{
	struct wheel *w = wheel_new(4, T0);

	(void)st;
	adv(w, T0 + MS(100) + 500);
	assert_int_equal(w->tw.tick, (T0 + MS(100)) / DP_TW_TICK_US);
	dp_tw_arm(&w->tw, 0, T0 + MS(50));   /* long past */
	dp_tw_arm(&w->tw, 1, T0 + MS(100));  /* the tick already processed */
	dp_tw_arm(&w->tw, 2, 0);             /* the epoch */
	dp_tw_arm(&w->tw, 3, T0 + MS(100) + 1); /* later in this tick: rounds up to the next */
	assert_int_equal(adv(w, T0 + MS(100) + 999), 0);
	assert_int_equal(adv(w, T0 + MS(101)), 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(w->r.ev[i].t, T0 + MS(101));
	wheel_free(w);
}

static void test_long_jump_once(void **st)
{
	enum { N = 2000 };
	struct wheel *w = wheel_new(N, T0);
	uint64_t s = 0x1234567, exp[N], last = 0;
	uint32_t seen[N] = {0};

	(void)st;
	for (uint32_t e = 0; e < N; e++) {
		uint64_t t = T0 + rnd(&s) % MS(60000);
		dp_tw_arm(&w->tw, e, t);
		exp[e] = expect_fire(t, T0 / DP_TW_TICK_US);
	}
	/* one jump of 70 s: 17 turns of the wheel in a single call */
	assert_int_equal(adv(w, T0 + MS(70000)), N);
	assert_int_equal(w->tw.armed, 0);
	for (size_t i = 0; i < w->r.n; i++) {
		uint32_t e = w->r.ev[i].e;
		assert_int_equal(w->r.ev[i].t, exp[e]);
		assert_true(w->r.ev[i].t >= last); /* in time order */
		last = w->r.ev[i].t;
		seen[e]++;
	}
	for (uint32_t e = 0; e < N; e++)
		assert_int_equal(seen[e], 1);
	assert_int_equal(adv(w, T0 + MS(140000)), 0);
	wheel_free(w);
}

/* Same arms, same re-arming callback; one wheel advanced in one call, the other in random
 * small steps (some inside one tick, some capped by max_ticks): same (entry, time) list. */
static void test_path_independence(void **st)
{
	enum { N = 500 };
	struct wheel *a = wheel_new(N, T0 + 123), *b = wheel_new(N, T0 + 123);
	uint64_t s = 42, t, end = T0 + MS(20000);

	(void)st;
	a->r.period = b->r.period = MS(70);
	a->r.rearm_left = b->r.rearm_left = 3000;
	for (uint32_t e = 0; e < N; e++) {
		uint64_t at = T0 + rnd(&s) % MS(9000);
		dp_tw_arm(&a->tw, e, at);
		dp_tw_arm(&b->tw, e, at);
	}
	assert_true(adv(a, end) > N);
	for (t = T0 + 123; b->tw.tick < end / DP_TW_TICK_US;) {
		uint64_t r = rnd(&s);
		uint32_t cap = (r & 3) == 0 ? (uint32_t)(r >> 8) % 50 + 1 : UINT32_MAX;
		if (t < end)
			t += (r >> 16) % 5000 + 1; /* up to 5 ms, often inside a tick */
		if (t > end)
			t = end;
		dp_tw_advance(&b->tw, t, cap, on_fire, &b->r);
	}
	assert_int_equal(a->r.n, b->r.n);
	for (size_t i = 0; i < a->r.n; i++) { /* field by field: the struct has padding */
		assert_int_equal(a->r.ev[i].e, b->r.ev[i].e);
		assert_int_equal(a->r.ev[i].t, b->r.ev[i].t);
	}
	assert_int_equal(a->tw.armed, b->tw.armed);
	wheel_free(a);
	wheel_free(b);
}

static void test_max_ticks_resumes(void **st)
{
	struct wheel *w = wheel_new(2, T0);

	(void)st;
	dp_tw_arm(&w->tw, 0, T0 + MS(5));
	dp_tw_arm(&w->tw, 1, T0 + MS(15));
	/* 10 ticks per call: the second entry waits for the next call, at its own tick time */
	assert_int_equal(dp_tw_advance(&w->tw, T0 + MS(20), 10, on_fire, &w->r), 1);
	assert_int_equal(w->tw.tick, T0 / DP_TW_TICK_US + 10);
	assert_int_equal(dp_tw_advance(&w->tw, T0 + MS(20), 10, on_fire, &w->r), 1);
	assert_int_equal(w->r.ev[1].t, T0 + MS(15));
	assert_int_equal(w->tw.tick, (T0 + MS(20)) / DP_TW_TICK_US);
	wheel_free(w);
}

static void test_100k_entries(void **st)
{
	enum { N = 100000 };
	struct wheel *w = wheel_new(N, T0);
	uint64_t s = 99, *exp = calloc(N, sizeof(*exp)), t;
	uint8_t *seen = calloc(N, 1);
	uint32_t fired = 0;

	(void)st;
	assert_non_null(exp);
	assert_non_null(seen);
	for (uint32_t e = 0; e < N; e++) {
		uint64_t at = T0 + rnd(&s) % MS(120000);
		dp_tw_arm(&w->tw, e, at);
		exp[e] = expect_fire(at, T0 / DP_TW_TICK_US);
	}
	assert_int_equal(w->tw.armed, N);
	/* cancel every tenth: they must not fire */
	for (uint32_t e = 0; e < N; e += 10)
		dp_tw_cancel(&w->tw, e);
	assert_int_equal(w->tw.armed, N - N / 10);
	for (t = T0; t <= T0 + MS(121000); t += MS(997))
		fired += adv(w, t);
	assert_int_equal(fired, N - N / 10);
	assert_int_equal(w->r.n, fired);
	for (size_t i = 0; i < w->r.n; i++) {
		uint32_t e = w->r.ev[i].e;
		assert_int_not_equal(e % 10, 0);
		assert_int_equal(w->r.ev[i].t, exp[e]);
		assert_int_equal(seen[e], 0);
		seen[e] = 1;
	}
	assert_int_equal(w->tw.armed, 0);
	free(exp);
	free(seen);
	wheel_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arm_cancel_rearm),
		cmocka_unit_test(test_many_in_one_slot),
		cmocka_unit_test(test_beyond_one_turn),
		cmocka_unit_test(test_past_fires_next_tick),
		cmocka_unit_test(test_long_jump_once),
		cmocka_unit_test(test_path_independence),
		cmocka_unit_test(test_max_ticks_resumes),
		cmocka_unit_test(test_100k_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
