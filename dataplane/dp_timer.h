/* A per-core hashed timer wheel (after VPP's tw_timer): O(1) arm, cancel and expiry for
 * hundreds of thousands of legs; entries are leg indices linked through a caller array. */
#ifndef DP_TIMER_H
#define DP_TIMER_H

#include <stdint.h>

#define DP_TW_SLOTS 4096u          /* power of two */
#define DP_TW_TICK_US 1000u        /* 1 ms resolution: Ta is 20 ms */
#define DP_TW_NONE UINT32_MAX

struct dp_tw_link {
	uint32_t next, prev;
	uint64_t expiry_us;        /* UINT64_MAX = not armed */
};

struct dp_tw {
	uint32_t head[DP_TW_SLOTS];
	uint64_t tick;             /* last processed tick */
	struct dp_tw_link *links;  /* one per entry, owned by the caller */
	uint32_t armed;
};

static inline void dp_tw_init(struct dp_tw *tw, struct dp_tw_link *links, uint32_t n,
			      uint64_t now_us)
{
	for (uint32_t i = 0; i < DP_TW_SLOTS; i++)
		tw->head[i] = DP_TW_NONE;
	for (uint32_t i = 0; i < n; i++) {
		links[i].next = links[i].prev = DP_TW_NONE;
		links[i].expiry_us = UINT64_MAX;
	}
	tw->links = links;
	tw->tick = now_us / DP_TW_TICK_US;
	tw->armed = 0;
}

static inline void dp_tw_cancel(struct dp_tw *tw, uint32_t e)
{
	struct dp_tw_link *l = &tw->links[e];

	if (l->expiry_us == UINT64_MAX)
		return;
	if (l->prev != DP_TW_NONE)
		tw->links[l->prev].next = l->next;
	else
		tw->head[(l->expiry_us / DP_TW_TICK_US) & (DP_TW_SLOTS - 1)] = l->next;
	if (l->next != DP_TW_NONE)
		tw->links[l->next].prev = l->prev;
	l->next = l->prev = DP_TW_NONE;
	l->expiry_us = UINT64_MAX;
	tw->armed--;
}

/* Arm (or re-arm) entry e for time t. An entry fires at the first tick boundary at or
 * after t (times are rounded up to the tick), never in the tick being processed. Entries
 * further than the wheel's span stay in their slot across turns: expiry is absolute. */
static inline void dp_tw_arm(struct dp_tw *tw, uint32_t e, uint64_t t)
{
	struct dp_tw_link *l = &tw->links[e];
	uint64_t slot_tick;
	uint32_t s;

	dp_tw_cancel(tw, e);
	if (t == UINT64_MAX)
		return;
	slot_tick = (t + DP_TW_TICK_US - 1) / DP_TW_TICK_US;
	if (slot_tick <= tw->tick)
		slot_tick = tw->tick + 1;
	if (t < slot_tick * DP_TW_TICK_US)
		t = slot_tick * DP_TW_TICK_US;
	s = (uint32_t)(slot_tick & (DP_TW_SLOTS - 1));
	l->expiry_us = t;
	l->prev = DP_TW_NONE;
	l->next = tw->head[s];
	if (l->next != DP_TW_NONE)
		tw->links[l->next].prev = e;
	tw->head[s] = e;
	tw->armed++;
}

/*
 * Walk the ticks up to now and call fn(ctx, e, tick_time) for each entry due at that
 * tick (fn may re-arm it). The time handed to fn is the tick's, not now: the same
 * timers fire at the same times however the walk is split into calls, which is what
 * makes a pcap replay reproduce a run exactly. At most max_ticks are walked per call.
 */
static inline uint32_t dp_tw_advance(struct dp_tw *tw, uint64_t now_us, uint32_t max_ticks,
				     void (*fn)(void *ctx, uint32_t e, uint64_t now), void *ctx)
{
	uint64_t target = now_us / DP_TW_TICK_US;
	uint32_t fired = 0, walked = 0;

	while (tw->tick < target && walked < max_ticks) {
		uint64_t tnow;
		uint32_t s, e;

		if (tw->armed == 0) {
			tw->tick = target;
			break;
		}
		tw->tick++;
		walked++;
		tnow = tw->tick * DP_TW_TICK_US;
		s = (uint32_t)(tw->tick & (DP_TW_SLOTS - 1));
		e = tw->head[s];
		while (e != DP_TW_NONE) {
			uint32_t next = tw->links[e].next;
			if (tw->links[e].expiry_us <= tnow) {
				dp_tw_cancel(tw, e);
				fn(ctx, e, tnow);
				fired++;
			}
			e = next;
		}
	}
	return fired;
}

#endif
