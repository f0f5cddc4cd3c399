/* ICE agent tests: pairs of agents on the simulated network with a virtual clock. Each
 * test asserts what a reader of RFC 8445, [MS-ICE] and seed 001's traces expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "simnet.h"

#define MS(x) ((uint64_t)(x) * 1000)
#define SEC(x) ((uint64_t)(x) * 1000000)

struct pairsim {
	struct simnet n;
	struct sim_host a, b;
};

static struct pairsim *mk(enum sim_nat na, enum sim_nat nb, enum ice_dialect d, uint64_t seed)
{
	struct pairsim *s = calloc(1, sizeof(*s));
	struct ice_config ca, cb;

	sim_init(&s->n, seed);
	sim_host_init(&s->a, na, "10.0.1.10", 5000, na ? "198.51.100.1" : NULL);
	sim_host_init(&s->b, nb, "10.0.2.20", 6000, nb ? "198.51.100.2" : NULL);
	s->n.h[0] = &s->a;
	s->n.h[1] = &s->b;
	sim_config(&s->n, &s->a, &ca, d, ICE_ROLE_CONTROLLING, "aaaa", "apassword-apassword-aa");
	sim_config(&s->n, &s->b, &cb, d, ICE_ROLE_CONTROLLED, "bbbb", "bpassword-bpassword-bb");
	ca.name = "A";
	cb.name = "B";
	assert_int_equal(ice_agent_init(&s->a.agent, &ca), 0);
	assert_int_equal(ice_agent_init(&s->b.agent, &cb), 0);
	if (getenv("ICE_TEST_TRACE"))
		s->a.print_trace = s->b.print_trace = true;
	return s;
}

static void go(struct pairsim *s, uint64_t until)
{
	sim_gather(&s->n, &s->a, 1, 5000);
	sim_gather(&s->n, &s->b, 1, 6000);
	sim_exchange(&s->n);
	assert_int_equal(ice_agent_start(&s->a.agent, s->n.now), 0);
	assert_int_equal(ice_agent_start(&s->b.agent, s->n.now), 0);
	sim_run(&s->n, s->n.now + until);
}

static void assert_selected_match(struct pairsim *s)
{
	struct ice_addr al, ar, bl, br;

	assert_int_equal(ice_agent_selected(&s->a.agent, 1, &al, &ar), 0);
	assert_int_equal(ice_agent_selected(&s->b.agent, 1, &bl, &br), 0);
	/* without NATs each side's remote is the other's local */
	if (s->a.nat == SIM_NAT_NONE && s->b.nat == SIM_NAT_NONE) {
		assert_true(ice_addr_eq(&al, &br));
		assert_true(ice_addr_eq(&ar, &bl));
	}
}

static void test_host_host(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 1);
	uint64_t t0 = s->n.now;

	(void)st;
	go(s, MS(500));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	/* one round trip and a triggered check: a few Ta, well under 100 ms */
	assert_true(s->a.completed_at - t0 < MS(100));
	assert_true(s->b.completed_at - t0 < MS(100));
	assert_selected_match(s);
	assert_int_equal(ice_agent_warn(&s->a.agent), 0);
	assert_true(sim_trace_has(&s->a, "ICE process complete, status=Success"));
	assert_true(sim_trace_has(&s->a, "connectivity check SUCCESS"));
	assert_true(sim_trace_has(&s->a, "ICE negotiation completed in 0."));
	assert_int_equal(s->a.events[ICE_EV_COMPLETED], 1);
	free(s);
}

static void test_two_components_regular(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 2);
	struct ice_config ca = s->a.agent.cfg, cb = s->b.agent.cfg;

	(void)st;
	ca.ncomp = cb.ncomp = 2;
	ca.nomination = ICE_NOM_REGULAR;
	ice_agent_init(&s->a.agent, &ca);
	ice_agent_init(&s->b.agent, &cb);
	sim_gather(&s->n, &s->a, 1, 5000);
	sim_gather(&s->n, &s->a, 2, 5001);
	sim_gather(&s->n, &s->b, 1, 6000);
	sim_gather(&s->n, &s->b, 2, 6001);
	sim_exchange(&s->n);
	ice_agent_start(&s->a.agent, s->n.now);
	ice_agent_start(&s->b.agent, s->n.now);
	sim_run(&s->n, s->n.now + SEC(2));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	/* regular nomination waits for the nomination delay */
	assert_true(s->a.completed_at - SEC(1) >= MS(400));
	for (uint8_t c = 1; c <= 2; c++) {
		struct ice_addr l, r;
		assert_int_equal(ice_agent_selected(&s->b.agent, c, &l, &r), 0);
		assert_int_equal(l.port, 6000 + c - 1);
		assert_int_equal(r.port, 5000 + c - 1);
	}
	assert_int_equal(s->a.events[ICE_EV_SELECTED], 2);
	free(s);
}

static void test_full_cone_srflx(void **st)
{
	struct pairsim *s = mk(SIM_NAT_FULL_CONE, SIM_NAT_PORT_RESTRICTED, ICE_DIALECT_RFC8445, 3);

	(void)st;
	go(s, SEC(10));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	free(s);
}

static void test_symmetric_vs_open(void **st)
{
	/* A behind a symmetric NAT: its srflx is useless, but B learns A's real mapping as a
	 * peer-reflexive candidate from A's check and its triggered check goes through. */
	struct pairsim *s = mk(SIM_NAT_SYMMETRIC, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 4);

	(void)st;
	go(s, SEC(10));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	assert_true(s->b.agent.stats.prflx_remote >= 1);
	assert_true(sim_trace_has(&s->b, "peer-reflexive"));
	free(s);
}

static void test_symmetric_vs_symmetric_fails(void **st)
{
	struct pairsim *s = mk(SIM_NAT_SYMMETRIC, SIM_NAT_SYMMETRIC, ICE_DIALECT_RFC8445, 5);
	uint64_t t0 = s->n.now;

	(void)st;
	go(s, SEC(40));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_FAILED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_FAILED);
	/* host pairs and NAT pairs both tried and failed: ICEWarn 0x20 | 0x40 */
	assert_int_equal(ice_agent_warn(&s->a.agent) & 0x60, 0x60);
	assert_int_equal(s->a.events[ICE_EV_FAILED], 1);
	/* failure comes from the retransmission budget, not the 30 s guard */
	assert_true(s->a.failed_at - t0 < SEC(12));
	assert_true(sim_trace_has(&s->a, "STUN transaction has timed out"));
	assert_true(sim_trace_has(&s->a, "ICE process complete, status=All ICE checklists failed"));
	free(s);
}

static void test_loss_dup_reorder(void **st)
{
	(void)st;
	for (uint64_t seed = 10; seed < 30; seed++) {
		struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_PORT_RESTRICTED, ICE_DIALECT_RFC8445, seed);
		s->n.loss_pct = 25;
		s->n.dup_pct = 20;
		s->n.reorder_pct = 30;
		go(s, SEC(20));
		assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
		assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
		free(s);
	}
}

static void test_role_conflict(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 6);
	struct ice_config cb = s->b.agent.cfg;

	(void)st;
	/* both think they are controlling */
	cb.role = ICE_ROLE_CONTROLLING;
	ice_agent_init(&s->b.agent, &cb);
	go(s, SEC(2));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	assert_int_not_equal(ice_agent_role(&s->a.agent), ice_agent_role(&s->b.agent));
	/* the one with the larger tie-breaker stays controlling */
	if (s->a.agent.tie_breaker > s->b.agent.tie_breaker)
		assert_int_equal(ice_agent_role(&s->a.agent), ICE_ROLE_CONTROLLING);
	else
		assert_int_equal(ice_agent_role(&s->b.agent), ICE_ROLE_CONTROLLING);
	assert_true(s->a.events[ICE_EV_ROLE_CHANGED] + s->b.events[ICE_EV_ROLE_CHANGED] >= 1);
	assert_selected_match(s);
	free(s);
}

static void test_role_conflict_single_switch(void **st)
{
	/* RFC 8445 §7.2.5.1: a 487 means "switch to the role opposite to the one the request
	 * carried". icepeer over a veth showed an agent that had already switched (on the
	 * peer's request) toggle back on the 487 to its own earlier check, then again on the
	 * next 487: three role changes where one is right. Both start with the same role;
	 * exactly one of them must switch, exactly once. */
	for (int r = 0; r < 2; r++)
		for (uint64_t seed = 30; seed < 36; seed++) {
			struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, seed);
			struct ice_config ca = s->a.agent.cfg, cb = s->b.agent.cfg;

			ca.role = cb.role = r ? ICE_ROLE_CONTROLLED : ICE_ROLE_CONTROLLING;
			ice_agent_init(&s->a.agent, &ca);
			ice_agent_init(&s->b.agent, &cb);
			go(s, SEC(2));
			assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
			assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
			assert_int_not_equal(ice_agent_role(&s->a.agent), ice_agent_role(&s->b.agent));
			assert_int_equal(s->a.events[ICE_EV_ROLE_CHANGED] +
						 s->b.events[ICE_EV_ROLE_CHANGED], 1);
			assert_selected_match(s);
			free(s);
		}
	(void)st;
}

static void test_lite_peer(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 7);
	struct ice_config ca = s->a.agent.cfg, cb = s->b.agent.cfg;

	(void)st;
	/* A is lite and was even told to control: a lite agent is always controlled */
	ca.lite = true;
	cb.role = ICE_ROLE_CONTROLLED;
	cb.nomination = ICE_NOM_REGULAR;
	ice_agent_init(&s->a.agent, &ca);
	ice_agent_init(&s->b.agent, &cb);
	go(s, SEC(3));
	assert_int_equal(ice_agent_role(&s->a.agent), ICE_ROLE_CONTROLLED);
	assert_int_equal(ice_agent_role(&s->b.agent), ICE_ROLE_CONTROLLING);
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	/* the lite agent sends no checks of its own */
	assert_int_equal(s->a.agent.stats.tx_checks, 0);
	assert_true(s->a.agent.stats.tx_responses >= 1);
	free(s);
}

static void test_consent_and_loss(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 8);
	uint64_t t;

	(void)st;
	go(s, SEC(1));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	sim_run(&s->n, s->n.now + SEC(60));
	/* RFC 7675: every 5 s +/- 20 %: 10 to 15 in a minute, and consent holds */
	assert_in_range(s->a.agent.stats.tx_consent, 10, 15);
	assert_int_equal(s->a.events[ICE_EV_CONSENT_LOST], 0);
	/* B goes silent: A loses consent 30 s after the last answer */
	s->b.down = true;
	t = s->n.now;
	sim_run(&s->n, s->n.now + SEC(40));
	assert_int_equal(s->a.events[ICE_EV_CONSENT_LOST], 1);
	assert_true(sim_trace_has(&s->a, "Consent to send lost"));
	assert_true(s->a.agent.consent_ok_us[0] + SEC(30) > t - SEC(7));
	free(s);
}

static void test_ms_ice2_legacy_fp_duplicates(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_MSICE2, 9);

	(void)st;
	go(s, SEC(2));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	assert_true(s->a.agent.peer_impl_version);
	/* the first check went out twice (standard and legacy FINGERPRINT) */
	assert_true(s->a.sent > s->a.agent.stats.tx_checks + s->a.agent.stats.tx_responses);
	/* after completion MS-ICE2 keeps the binding with indications when media is silent */
	sim_run(&s->n, s->n.now + SEC(45));
	assert_true(s->a.agent.stats.tx_keepalives >= 2);
	assert_int_equal(s->a.agent.stats.tx_consent, 0);
	free(s);
}

static void test_ms_ice_timers(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_MSICE, 11);
	uint64_t t0 = s->n.now;

	(void)st;
	go(s, SEC(12));
	/* [MS-ICE] §3.1.6.2: 3 s after a request and a response came from the peer */
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	assert_in_range(s->a.completed_at - t0, SEC(3), SEC(3) + MS(200));
	assert_int_equal(s->a.events[ICE_EV_FINAL_OFFER], 1);
	assert_int_equal(s->b.events[ICE_EV_FINAL_OFFER], 0);
	assert_selected_match(s);
	/* keep-alive on the RTP component at most every 19 s, when media is silent */
	sim_run(&s->n, s->n.now + SEC(40));
	assert_in_range(s->a.agent.stats.tx_keepalives, 2, 3);
	free(s);

	/* unreachable peer: the phase lasts its full 10 s and the call fails */
	s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_MSICE, 12);
	s->b.down = true;
	t0 = s->n.now;
	go(s, SEC(15));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_FAILED);
	/* every check ran out of retransmissions (about 6.3 s) before the 10 s limit */
	assert_in_range(s->a.failed_at - t0, SEC(5), SEC(10));
	assert_true(ice_agent_warn(&s->a.agent) & 0x20);
	free(s);
}

static void test_ms_ice_pair_valid_once(void **st)
{
	/* ICE_EV_PAIR_VALID means "a pair entered the valid list": once per pair, however many
	 * checks arrive on it afterwards. icepeer's interop run over a veth showed MS-ICE agents
	 * repeating it for every incoming check on a valid pair. */
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_MSICE, 21);
	struct ice_config ca = s->a.agent.cfg, cb = s->b.agent.cfg;

	(void)st;
	ca.ncomp = cb.ncomp = 2;
	ice_agent_init(&s->a.agent, &ca);
	ice_agent_init(&s->b.agent, &cb);
	sim_gather(&s->n, &s->a, 1, 5000);
	sim_gather(&s->n, &s->a, 2, 5001);
	sim_gather(&s->n, &s->b, 1, 6000);
	sim_gather(&s->n, &s->b, 2, 6001);
	sim_exchange(&s->n);
	/* B starts late, as a real peer does: its checks reach A's already valid pairs */
	ice_agent_start(&s->a.agent, s->n.now);
	sim_run(&s->n, s->n.now + MS(100));
	ice_agent_start(&s->b.agent, s->n.now);
	sim_run(&s->n, s->n.now + SEC(5));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	for (int h = 0; h < 2; h++) {
		struct sim_host *x = h ? &s->b : &s->a;
		unsigned valid = 0;
		for (unsigned i = 0; i < x->agent.npairs; i++)
			valid += (x->agent.pairs[i].flags & ICE_PF_VALID) != 0;
		assert_int_equal(valid, 2);
		assert_int_equal(x->events[ICE_EV_PAIR_VALID], valid);
	}
	free(s);
}

static bool corrupt_mi(struct simnet *n, struct sim_pkt *p)
{
	(void)n;
	/* an attacker who knows the framing: flip a byte of MESSAGE-INTEGRITY in requests to
	 * B and fix FINGERPRINT up so that only the integrity check can catch it */
	if (p->to.port == 6000 && p->len > 40 && p->data[0] == 0x00 && p->data[1] == 0x01) {
		uint32_t crc;
		p->data[p->len - 12] ^= 0xff;
		crc = stun_crc32(p->data, p->len - 8u) ^ STUN_FP_XOR;
		p->data[p->len - 4] = (uint8_t)(crc >> 24);
		p->data[p->len - 3] = (uint8_t)(crc >> 16);
		p->data[p->len - 2] = (uint8_t)(crc >> 8);
		p->data[p->len - 1] = (uint8_t)crc;
	}
	return true;
}

static void test_integrity_failure(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 13);

	(void)st;
	s->n.tamper = corrupt_mi;
	go(s, SEC(12));
	/* B answered 431 and raised ICEWarn 0x400 */
	assert_true(s->b.agent.stats.drop_integrity >= 1);
	assert_true(s->b.agent.stats.tx_errors >= 1);
	assert_true(ice_agent_warn(&s->b.agent) & 0x400);
	assert_true(sim_trace_has(&s->b, "answered 431"));
	assert_int_not_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	free(s);
}

static void test_unknown_username_and_garbage(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 14);
	uint8_t buf[256], rbuf[256];
	struct stun_builder b;
	struct stun_key k;
	struct ice_out reply = {.buf = rbuf, .cap = sizeof(rbuf)};
	struct ice_addr l, r;
	static const uint8_t tid[12] = {1};
	int n;

	(void)st;
	go(s, MS(200));
	l = s->b.agent.local[0].addr;
	ice_addr_parse(&r, "192.0.2.99:9999");
	stun_key_init(&k, "bpassword-bpassword-bb", 22);
	/* wrong ufrag: silently dropped */
	stun_build_init(&b, buf, sizeof(buf), 0x0001, tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "zzzz:aaaa");
	stun_build_u32(&b, ICE_A_PRIORITY, 1);
	stun_build_integrity(&b, &k, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	n = stun_build_finish(&b);
	assert_int_equal(ice_agent_recv(&s->b.agent, s->n.now, &l, &r, buf, (size_t)n, &reply),
			 ICE_RX_DROPPED);
	assert_int_equal(s->b.agent.stats.drop_unknown_user, 1);
	/* no MESSAGE-INTEGRITY: 401 */
	stun_build_init(&b, buf, sizeof(buf), 0x0001, tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "bbbb:aaaa");
	n = stun_build_finish(&b);
	assert_int_equal(ice_agent_recv(&s->b.agent, s->n.now, &l, &r, buf, (size_t)n, &reply),
			 ICE_RX_REPLIED);
	{
		struct stun_msg m;
		int code;
		assert_int_equal(stun_parse(&m, rbuf, reply.len, 0), 0);
		assert_int_equal(stun_msg_get_error(&m, &code, NULL, NULL), 0);
		assert_int_equal(code, 401);
	}
	/* unknown comprehension-required attribute: 420 listing it */
	stun_build_init(&b, buf, sizeof(buf), 0x0001, tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "bbbb:aaaa");
	stun_build_u32(&b, ICE_A_PRIORITY, 1);
	stun_build_u32(&b, 0x0077, 1);
	stun_build_integrity(&b, &k, STUN_MI_RFC);
	n = stun_build_finish(&b);
	assert_int_equal(ice_agent_recv(&s->b.agent, s->n.now, &l, &r, buf, (size_t)n, &reply),
			 ICE_RX_REPLIED);
	{
		struct stun_msg m;
		int code;
		const uint8_t *u;
		uint16_t ul;
		assert_int_equal(stun_parse(&m, rbuf, reply.len, 0), 0);
		assert_int_equal(stun_msg_get_error(&m, &code, NULL, NULL), 0);
		assert_int_equal(code, 420);
		assert_int_equal(stun_msg_get_bytes(&m, STUN_A_UNKNOWN_ATTRIBUTES, &u, &ul), 0);
		assert_memory_equal(u, "\x00\x77", 2);
		assert_int_equal(stun_msg_check_integrity(&m, &k, STUN_MI_RFC), 0);
	}
	/* media and garbage are not STUN; truncated STUN is a counted drop */
	memset(buf, 0x80, 40);
	assert_int_equal(ice_agent_recv(&s->b.agent, s->n.now, &l, &r, buf, 40, &reply),
			 ICE_RX_NOT_STUN);
	for (size_t len = 0; len < 20; len++)
		ice_agent_recv(&s->b.agent, s->n.now, &l, &r, rbuf, len, &reply);
	/* USERNAME claiming 16 bytes where 4 are left */
	memcpy(buf, "\x00\x01\x00\x08\x21\x12\xa4\x42", 8);
	memset(buf + 8, 0, 12);
	memcpy(buf + 20, "\x00\x06\x00\x10" "abcd", 8);
	assert_int_equal(ice_agent_recv(&s->b.agent, s->n.now, &l, &r, buf, 28, &reply),
			 ICE_RX_DROPPED);
	/* a request without USERNAME or MESSAGE-INTEGRITY gets an error, not a crash */
	memcpy(buf, "\x00\x01\x00\x00", 4);
	assert_int_equal(ice_agent_recv(&s->b.agent, s->n.now, &l, &r, buf, 20, &reply),
			 ICE_RX_REPLIED);
	/* a response nobody asked for */
	stun_build_init(&b, buf, sizeof(buf), 0x0101, tid, 0);
	n = stun_build_finish(&b);
	assert_int_equal(ice_agent_recv(&s->b.agent, s->n.now, &l, &r, buf, (size_t)n, &reply),
			 ICE_RX_DROPPED);
	assert_true(s->b.agent.stats.drop_no_txn >= 1);
	free(s);
}

static void test_early_request_replayed(void **st)
{
	/* B receives A's checks before it has A's candidates: it answers, caches, and once the
	 * remote description arrives it pairs them up (RFC 8445 §7.3.1.4). */
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 15);

	(void)st;
	sim_gather(&s->n, &s->a, 1, 5000);
	sim_gather(&s->n, &s->b, 1, 6000);
	sim_exchange(&s->n);
	/* B's view is reset: it knows nothing about A yet except credentials */
	{
		struct ice_config cb = s->b.agent.cfg;
		ice_agent_init(&s->b.agent, &cb);
		sim_gather(&s->n, &s->b, 1, 6000);
		ice_agent_set_remote_credentials(&s->b.agent, "aaaa", "apassword-apassword-aa");
	}
	ice_agent_start(&s->a.agent, s->n.now);
	sim_run(&s->n, s->n.now + MS(50));
	assert_true(s->b.agent.stats.tx_responses >= 1);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_NEW);
	ice_agent_end_of_candidates(&s->b.agent);
	ice_agent_start(&s->b.agent, s->n.now);
	sim_run(&s->n, s->n.now + SEC(2));
	assert_true(sim_trace_has(&s->b, "Replaying early check"));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	free(s);
}

static void test_restart(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 16);

	(void)st;
	go(s, SEC(1));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_restart(&s->a.agent, s->n.now, "cccc", "cpassword-cpassword-cc"), 0);
	assert_int_equal(ice_agent_restart(&s->b.agent, s->n.now, "dddd", "dpassword-dpassword-dd"), 0);
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_NEW);
	assert_int_equal(s->a.agent.nlocal, 1);
	sim_exchange(&s->n);
	ice_agent_start(&s->a.agent, s->n.now);
	ice_agent_start(&s->b.agent, s->n.now);
	sim_run(&s->n, s->n.now + SEC(1));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	assert_string_equal(s->b.agent.rufrag, "cccc");
	free(s);
}

static void test_caps_and_bad_input(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 17);
	struct ice_agent *a = &s->a.agent;
	struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .prio = 1};
	struct ice_config bad;
	int dropped = 0;

	(void)st;
	sim_gather(&s->n, &s->a, 1, 5000);
	for (int i = 0; i < 100; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "192.0.2.%d:%d", i % 250, 1000 + i);
		ice_addr_parse(&rc.addr, ip);
		if (ice_agent_add_remote(a, s->n.now, &rc) == ICE_E_FULL)
			dropped++;
	}
	assert_int_equal(dropped, 100 - ICE_MAX_REMOTE);
	assert_int_equal(a->stats.remote_cands_dropped, 100 - ICE_MAX_REMOTE);
	ice_agent_set_remote_credentials(a, "bbbb", "x");
	assert_int_equal(ice_agent_start(a, s->n.now), 0);
	assert_true(a->npairs <= ICE_MAX_PAIRS);
	/* bad arguments are refused, not trusted */
	rc.comp = 3;
	assert_int_equal(ice_agent_add_remote(a, s->n.now, &rc), ICE_E_INVAL);
	rc.comp = 1;
	rc.addr.port = 0;
	assert_int_equal(ice_agent_add_remote(a, s->n.now, &rc), ICE_E_INVAL);
	assert_int_equal(ice_agent_set_remote_credentials(a, "with:colon", "x"), ICE_E_INVAL);
	assert_int_equal(ice_agent_start(a, s->n.now), ICE_E_STATE);
	bad = a->cfg;
	bad.ncomp = 3;
	assert_int_equal(ice_agent_init(&s->b.agent, &bad), ICE_E_INVAL);
	bad.ncomp = 1;
	bad.rng = NULL;
	assert_int_equal(ice_agent_init(&s->b.agent, &bad), ICE_E_INVAL);
	assert_string_equal(ice_strerror(ICE_E_FULL), "capacity reached");
	free(s);
}

static void test_priorities(void **st)
{
	(void)st;
	/* RFC 8445 §5.1.2.1 host, component 1, max local preference */
	assert_int_equal(ice_cand_priority(ICE_DIALECT_RFC8445, ICE_CAND_HOST, 65535, 1), 0x7effffff);
	/* libnice OC2007R2 host priority seen on the wire (PEERS.md): 2028994815 */
	assert_int_equal(ice_cand_priority(ICE_DIALECT_MSICE2, ICE_CAND_HOST, 0, 1), 2028994815u);
	/* RFC 8445 §6.1.2.3 */
	assert_true(ice_pair_priority(10, 20) == ((10ull << 32) + 40));
	assert_true(ice_pair_priority(20, 10) == ((10ull << 32) + 40 + 1));
}

static void test_deterministic(void **st)
{
	/* the same seed gives the same run: counters and timings identical */
	struct pairsim *x = mk(SIM_NAT_NONE, SIM_NAT_RESTRICTED, ICE_DIALECT_RFC8445, 99);
	struct pairsim *y = mk(SIM_NAT_NONE, SIM_NAT_RESTRICTED, ICE_DIALECT_RFC8445, 99);

	(void)st;
	x->n.loss_pct = y->n.loss_pct = 10;
	go(x, SEC(5));
	go(y, SEC(5));
	assert_true(x->a.completed_at == y->a.completed_at);
	assert_int_equal(x->a.sent, y->a.sent);
	assert_memory_equal(&x->a.agent.stats, &y->a.agent.stats, sizeof(struct ice_stats));
	free(x);
	free(y);
}

static void test_component_without_candidates(void **st)
{
	/* A peer that does ICE for RTP only: the second component has no candidate and must
	 * neither fail the stream nor lose consent (found through the NG control plane). */
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 21);
	struct ice_config ca = s->a.agent.cfg;
	struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .foundation = "x"};

	(void)st;
	ca.ncomp = 2;
	ice_agent_init(&s->a.agent, &ca);
	sim_gather(&s->n, &s->a, 1, 5000);
	sim_gather(&s->n, &s->a, 2, 5001);
	sim_gather(&s->n, &s->b, 1, 6000);
	sim_exchange(&s->n);
	(void)rc;
	ice_agent_start(&s->a.agent, s->n.now);
	ice_agent_start(&s->b.agent, s->n.now);
	sim_run(&s->n, s->n.now + SEC(2));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_selected(&s->a.agent, 1, NULL, NULL), 0);
	assert_int_equal(ice_agent_selected(&s->a.agent, 2, NULL, NULL), ICE_E_STATE);
	sim_run(&s->n, s->n.now + SEC(60));
	assert_int_equal(s->a.events[ICE_EV_CONSENT_LOST], 0);
	assert_int_equal(s->a.events[ICE_EV_FAILED], 0);
	free(s);
}


/* ---- local candidates gathered while the checks run (RFC 8838 §8.1.1) ---- */

/* Only what goes through A's relay gets through: host to host is blocked both ways. */
static bool relay_only_path(struct simnet *n, struct sim_pkt *p)
{
	const struct ice_addr *r = &n->h[0]->relayed;

	return r->family && (ice_addr_eq(&p->from, r) || ice_addr_eq(&p->to, r));
}

static uint64_t cred_rng(void *ctx)
{
	uint64_t *x = ctx;

	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return *x >> 11;
}

/* [MS-ICE] credentials chosen by the caller (the control plane, which advertised them):
 * the candidates of a type take them, whether added before or after; the components share
 * them; bad strings, a ':' in the identifier or a duplicate identifier are refused. */
static void test_ms_ice_set_local_cred(void **st)
{
	/* 32 bytes 0x01..0x20 and 16 bytes 0x64..0x73; the relay's starts with 0x81 */
	static const char hid[] = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
	static const char rid[] = "gQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA";
	static const char pw[] = "ZGVmZ2hpamtsbW5vcHFycw";
	static struct ice_agent a;
	uint64_t seed = 7;
	struct ice_config cfg = {.dialect = ICE_DIALECT_MSICE, .ncomp = 2, .rng = cred_rng,
				 .rng_ctx = &seed};
	struct ice_addr h1, h2, r1;
	char id[64], p[32];

	(void)st;
	ice_addr_set_v4(&h1, 0xc0000201u, 5000);
	ice_addr_set_v4(&h2, 0xc0000201u, 5001);
	ice_addr_set_v4(&r1, 0xc00002c8u, 49152);
	assert_int_equal(ice_agent_init(&a, &cfg), 0);
	/* host: set before its candidates; relay: after */
	assert_int_equal(ice_agent_set_local_ms_cred(&a, ICE_CAND_HOST, hid, pw), 0);
	assert_int_equal(ice_agent_add_local(&a, 1, ICE_CAND_HOST, &h1, -1, 65535), 0);
	assert_int_equal(ice_agent_add_local(&a, 2, ICE_CAND_HOST, &h2, -1, 65535), 1);
	assert_int_equal(ice_agent_add_local(&a, 1, ICE_CAND_RELAY, &r1, -1, 10), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ice_agent_local_ms_cred(&a, i, id, sizeof(id), p, sizeof(p)), 0);
		assert_string_equal(id, hid);
		assert_string_equal(p, pw);
	}
	assert_int_equal(ice_agent_local_ms_cred(&a, 2, id, sizeof(id), p, sizeof(p)), 0);
	assert_string_not_equal(id, rid); /* drawn */
	assert_int_equal(ice_agent_set_local_ms_cred(&a, ICE_CAND_RELAY, rid, pw), 0);
	assert_int_equal(ice_agent_local_ms_cred(&a, 2, id, sizeof(id), p, sizeof(p)), 0);
	assert_string_equal(id, rid);
	/* refused: the host's identifier again, a ':' (0x3a) inside, too long, not base64, RFC */
	assert_int_equal(ice_agent_set_local_ms_cred(&a, ICE_CAND_SRFLX, hid, pw), ICE_E_INVAL);
	assert_int_equal(ice_agent_set_local_ms_cred(&a, ICE_CAND_SRFLX, "OjoA", pw), ICE_E_INVAL);
	assert_int_equal(ice_agent_set_local_ms_cred(&a, ICE_CAND_SRFLX, hid,
						     "ZGVmZ2hpamtsbW5vcHFyc3R1"), ICE_E_INVAL);
	assert_int_equal(ice_agent_set_local_ms_cred(&a, ICE_CAND_SRFLX, "@@@@", pw), ICE_E_INVAL);
	cfg.dialect = ICE_DIALECT_RFC8445;
	cfg.ufrag = "abcd";
	cfg.pwd = "0123456789abcdefghijkl";
	assert_int_equal(ice_agent_init(&a, &cfg), 0);
	assert_int_equal(ice_agent_set_local_ms_cred(&a, ICE_CAND_HOST, hid, pw), ICE_E_INVAL);
}

/* B learns A's late candidate idx as a trickled remote one (as signalling would carry it). */
static void trickle_to_b(struct pairsim *s, int idx)
{
	const struct ice_cand *c = &s->a.agent.local[idx];
	struct ice_remote_cand rc = {
		.comp = c->comp, .type = c->type, .prio = c->prio, .addr = c->addr,
		.foundation = c->fnd_str,
	};
	char id[64], pw[32];

	if (s->b.agent.cfg.dialect == ICE_DIALECT_MSICE) {
		assert_int_equal(ice_agent_local_ms_cred(&s->a.agent, idx, id, sizeof(id), pw, sizeof(pw)), 0);
		rc.ms_id = id;
		rc.ms_pwd = pw;
	}
	assert_true(ice_agent_add_remote(&s->b.agent, s->n.now, &rc) >= 0);
}

/* A's relay comes 300 ms into the checks; the hosts cannot reach each other, so the relay
 * pair A formed then (and B's pair with the trickled relay) is the only way through. */
static void relay_late(enum ice_dialect d, uint64_t seed, bool add_it)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, d, seed);
	struct ice_addr rel, l, r;
	unsigned npairs;
	int idx;

	ice_addr_parse(&rel, "192.0.2.77:49152");
	s->n.tamper = relay_only_path;
	sim_gather(&s->n, &s->a, 1, 5000);
	sim_gather(&s->n, &s->b, 1, 6000);
	sim_exchange(&s->n);
	assert_int_equal(ice_agent_start(&s->a.agent, s->n.now), 0);
	assert_int_equal(ice_agent_start(&s->b.agent, s->n.now), 0);
	sim_run(&s->n, s->n.now + MS(300));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_RUNNING);
	npairs = s->a.agent.npairs;
	if (add_it) {
		s->a.relayed = rel;
		idx = ice_agent_add_local_at(&s->a.agent, s->n.now, 1, ICE_CAND_RELAY, &rel, -1, 65535);
		assert_true(idx >= 0);
		/* paired with B's host candidate at once, Waiting, its checks due now */
		assert_int_equal(s->a.agent.npairs, npairs + 1);
		assert_int_equal(s->a.agent.pairs[npairs].local, idx);
		assert_int_equal(s->a.agent.pairs[npairs].state, ICE_PAIR_WAITING);
		assert_true(ice_agent_next_timeout(&s->a.agent) <= s->n.now);
		assert_true(sim_trace_has(&s->a, "(trickled)"));
		trickle_to_b(s, idx);
	}
	sim_run(&s->n, s->n.now + SEC(20));
	if (!add_it) {
		/* the same network without the late relay: nothing gets through */
		assert_int_not_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
		assert_int_not_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
		free(s);
		return;
	}
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_state(&s->b.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_selected(&s->a.agent, 1, &l, &r), 0);
	assert_true(ice_addr_eq(&l, &rel));
	assert_int_equal(ice_agent_selected(&s->b.agent, 1, &l, &r), 0);
	assert_true(ice_addr_eq(&r, &rel));
	assert_int_equal(s->a.agent.stats.pairs_dropped, 0);
	free(s);
}

static void test_late_relay_rfc(void **st)
{
	(void)st;
	relay_late(ICE_DIALECT_RFC8445, 101, false);
	relay_late(ICE_DIALECT_RFC8445, 101, true);
}

static void test_late_relay_msice2(void **st)
{
	(void)st;
	relay_late(ICE_DIALECT_MSICE2, 102, false);
	relay_late(ICE_DIALECT_MSICE2, 102, true);
}

static void test_late_relay_msice(void **st)
{
	(void)st;
	relay_late(ICE_DIALECT_MSICE, 103, false);
	relay_late(ICE_DIALECT_MSICE, 103, true);
}

/* Two components: the relays share a foundation, so the second one's pair waits Frozen
 * for the first one's success (RFC 8445 §6.1.2.6, §7.2.5.3.3), then both complete. */
static void test_late_relay_two_components(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 104);
	struct ice_config ca = s->a.agent.cfg, cb = s->b.agent.cfg;
	struct ice_addr rel[2], l, r;
	unsigned np;
	int i1, i2;

	(void)st;
	ca.ncomp = cb.ncomp = 2;
	assert_int_equal(ice_agent_init(&s->a.agent, &ca), 0);
	assert_int_equal(ice_agent_init(&s->b.agent, &cb), 0);
	ice_addr_parse(&rel[0], "192.0.2.77:49152");
	ice_addr_parse(&rel[1], "192.0.2.77:49153");
	for (uint8_t c = 1; c <= 2; c++) {
		sim_gather(&s->n, &s->a, c, (uint16_t)(5000 + c - 1));
		sim_gather(&s->n, &s->b, c, (uint16_t)(6000 + c - 1));
	}
	sim_exchange(&s->n);
	/* only component 1's relay is modelled by simnet: component 2 goes host to host */
	s->n.tamper = NULL;
	assert_int_equal(ice_agent_start(&s->a.agent, s->n.now), 0);
	assert_int_equal(ice_agent_start(&s->b.agent, s->n.now), 0);
	np = s->a.agent.npairs;
	i1 = ice_agent_add_local_at(&s->a.agent, s->n.now, 1, ICE_CAND_RELAY, &rel[0], -1, 65535);
	i2 = ice_agent_add_local_at(&s->a.agent, s->n.now, 2, ICE_CAND_RELAY, &rel[1], -1, 65535);
	assert_true(i1 >= 0 && i2 >= 0);
	assert_int_equal(s->a.agent.npairs, np + 2);
	assert_int_equal(s->a.agent.pairs[np].state, ICE_PAIR_WAITING);
	assert_int_equal(s->a.agent.pairs[np + 1].comp, 2);
	assert_int_equal(s->a.agent.pairs[np + 1].state, ICE_PAIR_FROZEN);
	sim_run(&s->n, s->n.now + SEC(5));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	/* the hosts win (the relays rank lowest); the relays never disturbed the checks */
	for (uint8_t c = 1; c <= 2; c++) {
		assert_int_equal(ice_agent_selected(&s->a.agent, c, &l, &r), 0);
		assert_int_equal(l.port, 5000 + c - 1);
	}
	free(s);
}

/* A completed agent given a relay keeps its selected pair and sends no check for it. */
static void test_relay_after_completion(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 105);
	struct ice_addr rel, l0, r0, l, r;
	uint8_t buf[600];
	struct ice_out out = {.buf = buf, .cap = sizeof(buf)};
	unsigned np, checks;

	(void)st;
	go(s, MS(500));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_selected(&s->a.agent, 1, &l0, &r0), 0);
	np = s->a.agent.npairs;
	checks = s->a.agent.stats.tx_checks;
	ice_addr_parse(&rel, "192.0.2.77:49152");
	assert_true(ice_agent_add_local_at(&s->a.agent, s->n.now, 1, ICE_CAND_RELAY, &rel, -1, 65535) >= 0);
	assert_int_equal(s->a.agent.npairs, np);
	assert_int_equal(ice_agent_poll_transmit(&s->a.agent, s->n.now, &out), 0);
	sim_run(&s->n, s->n.now + SEC(2));
	assert_int_equal(ice_agent_state(&s->a.agent), ICE_STATE_COMPLETED);
	assert_int_equal(ice_agent_selected(&s->a.agent, 1, &l, &r), 0);
	assert_true(ice_addr_eq(&l, &l0) && ice_addr_eq(&r, &r0));
	assert_int_equal(s->a.agent.stats.tx_checks, checks);
	assert_int_equal(s->a.events[ICE_EV_COMPLETED], 1);
	free(s);
}

/* At the pair cap a late candidate's pair takes the place of a lower-priority pair that
 * waits, and a lower-priority one is dropped (counted); a lite agent does not pair. */
static void test_late_local_cap_and_lite(void **st)
{
	struct pairsim *s = mk(SIM_NAT_NONE, SIM_NAT_NONE, ICE_DIALECT_RFC8445, 106);
	struct ice_config ca = s->a.agent.cfg, cb = s->b.agent.cfg;
	struct ice_addr rel, host, rel2;

	(void)st;
	ca.max_pairs = 1;
	ca.ta_us = 1000000; /* keep the one pair Waiting while we look */
	assert_int_equal(ice_agent_init(&s->a.agent, &ca), 0);
	ice_addr_parse(&rel, "192.0.2.77:49152");
	ice_addr_parse(&rel2, "192.0.2.78:49152");
	ice_addr_parse(&host, "10.0.1.10:5000");
	/* A starts relay-only (force-relay), its host comes late */
	assert_int_equal(ice_agent_add_local(&s->a.agent, 1, ICE_CAND_RELAY, &rel, -1, 65535), 0);
	sim_gather(&s->n, &s->b, 1, 6000);
	sim_exchange(&s->n);
	assert_int_equal(ice_agent_start(&s->a.agent, s->n.now), 0);
	assert_int_equal(s->a.agent.npairs, 1);
	assert_int_equal(s->a.agent.pairs[0].state, ICE_PAIR_WAITING);
	assert_int_equal(ice_agent_add_local_at(&s->a.agent, s->n.now, 1, ICE_CAND_HOST, &host, -1, 65535), 1);
	assert_int_equal(s->a.agent.npairs, 1);
	assert_int_equal(s->a.agent.pairs[0].local, 1);
	assert_int_equal(s->a.agent.pairs[0].state, ICE_PAIR_WAITING);
	assert_int_equal(s->a.agent.stats.pairs_dropped, 1);
	/* lower than what is there: dropped */
	assert_int_equal(ice_agent_add_local_at(&s->a.agent, s->n.now, 1, ICE_CAND_RELAY, &rel2, -1, 1), 2);
	assert_int_equal(s->a.agent.pairs[0].local, 1);
	assert_int_equal(s->a.agent.stats.pairs_dropped, 2);

	/* a lite agent pairs as at its start, and still sends no check */
	cb.lite = true;
	assert_int_equal(ice_agent_init(&s->b.agent, &cb), 0);
	sim_gather(&s->n, &s->b, 1, 6000);
	assert_int_equal(ice_agent_set_remote_credentials(&s->b.agent, "aaaa", "apassword-apassword-aa"), 0);
	{
		struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .prio = 2130706431,
					     .addr = host, .foundation = "1"};
		assert_true(ice_agent_add_remote(&s->b.agent, s->n.now, &rc) >= 0);
	}
	assert_int_equal(ice_agent_start(&s->b.agent, s->n.now), 0);
	assert_int_equal(s->b.agent.npairs, 1);
	assert_int_equal(ice_agent_add_local_at(&s->b.agent, s->n.now, 1, ICE_CAND_RELAY, &rel2, -1, 65535), 1);
	assert_int_equal(s->b.agent.npairs, 2);
	assert_true(ice_agent_next_timeout(&s->b.agent) > s->n.now);
	{
		uint8_t buf[600];
		struct ice_out out = {.buf = buf, .cap = sizeof(buf)};
		assert_int_equal(ice_agent_poll_transmit(&s->b.agent, s->n.now, &out), 0);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priorities),
		cmocka_unit_test(test_host_host),
		cmocka_unit_test(test_two_components_regular),
		cmocka_unit_test(test_full_cone_srflx),
		cmocka_unit_test(test_symmetric_vs_open),
		cmocka_unit_test(test_symmetric_vs_symmetric_fails),
		cmocka_unit_test(test_loss_dup_reorder),
		cmocka_unit_test(test_role_conflict),
		cmocka_unit_test(test_role_conflict_single_switch),
		cmocka_unit_test(test_lite_peer),
		cmocka_unit_test(test_consent_and_loss),
		cmocka_unit_test(test_ms_ice2_legacy_fp_duplicates),
		cmocka_unit_test(test_ms_ice_timers),
		cmocka_unit_test(test_ms_ice_pair_valid_once),
		cmocka_unit_test(test_ms_ice_set_local_cred),
		cmocka_unit_test(test_integrity_failure),
		cmocka_unit_test(test_unknown_username_and_garbage),
		cmocka_unit_test(test_early_request_replayed),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_caps_and_bad_input),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_component_without_candidates),
		cmocka_unit_test(test_late_relay_rfc),
		cmocka_unit_test(test_late_relay_msice2),
		cmocka_unit_test(test_late_relay_msice),
		cmocka_unit_test(test_late_relay_two_components),
		cmocka_unit_test(test_relay_after_completion),
		cmocka_unit_test(test_late_local_cap_and_lite),
	};
	return cmocka_run_group_tests_name("ice_agent", tests, NULL, NULL);
}
