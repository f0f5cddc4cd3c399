/* TURN client (ice/turn.c) against a scripted fake server: challenge, stale nonce, refresh,
 * permission, channel, deallocation, retransmission timing, failures, alternate server, MS-TURN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "turn.h"

#define MS 1000ull
#define S 1000000ull

struct fake {
	bool ms;
	const char *pass;        /* what the server believes */
	const char *nonce;
	int alloc_err;           /* answer Allocate with this error (signed stage) */
	struct ice_addr alt;     /* ALTERNATE-SERVER for a 300 */
	uint32_t lifetime;
	int perm_err;
	int sad_err;             /* answer Set-Active-Destination with this error */
	bool no_ms_seq;          /* Allocate response without MS-SEQUENCE-NUMBER */
	unsigned seen[16];       /* requests seen per method */
	uint32_t last_lifetime;
	bool last_had_mi;
};

static uint64_t rng_state = 0x1234567;
static uint64_t rng(void *ctx)
{
	(void)ctx;
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static struct ice_addr srv, srv2, peer1, peer2, relayed, mapped;

static void addrs(void)
{
	ice_addr_parse(&srv, "127.0.0.1:3478");
	ice_addr_parse(&srv2, "127.0.0.2:3479");
	ice_addr_parse(&peer1, "192.0.2.10:5000");
	ice_addr_parse(&peer2, "192.0.2.11:6000");
	ice_addr_parse(&relayed, "198.51.100.1:49152");
	ice_addr_parse(&mapped, "203.0.113.5:40000");
}

/* the server's MS-SEQUENCE-NUMBER: a connection id 0xc0.. and the number 0x00000100 */
static const uint8_t ms_seq_val[24] = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
				       0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
				       0xd0, 0xd1, 0xd2, 0xd3, 0, 0, 1, 0};

/* [MS-TURN] §3.1.10: MAGIC-COOKIE first in every message */
static void ms_cookie(const struct fake *f, struct stun_builder *b)
{
	if (f->ms)
		stun_build_u32(b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
}

static int fake_serve(struct fake *f, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	struct stun_msg m;
	struct stun_builder b;
	struct stun_key k;
	const uint8_t *p;
	uint16_t l;
	unsigned pf = f->ms ? (STUN_PF_MS_ATTRS | STUN_PF_UNPADDED) : 0;
	uint16_t rt = f->ms ? MSTURN_A_REALM : STUN_A_REALM, nt = f->ms ? MSTURN_A_NONCE : STUN_A_NONCE;
	enum stun_mi_mode mode = f->ms ? STUN_MI_PAD64 : STUN_MI_RFC;
	unsigned bf = f->ms ? (STUN_BF_UNPADDED | STUN_BF_LEGACY) : 0;
	uint32_t life = 0;

	assert_int_equal(stun_parse(&m, req, len, pf), 0);
	assert_int_equal(m.cls, STUN_C_REQUEST);
	f->seen[m.method & 15]++;
	f->last_had_mi = m.mi_off != 0;
	stun_key_init_long_term(&k, "alice", "test.realm", f->pass);
	if (f->ms && m.method == MSTURN_M_SET_ACTIVE_DEST) {
		/* [MS-TURN]: no NONCE here; the integrity alone says who it is */
		int code = !m.mi_off || stun_msg_check_integrity(&m, &k, mode) ? 401 : f->sad_err;
		if (!code)
			goto success;
		if (f->sad_err == 438)
			f->sad_err = 0; /* once */
		stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_ERROR), stun_msg_tid(&m), bf);
		ms_cookie(f, &b);
		stun_build_error(&b, code, "No");
		if (code == 401 || code == 438) {
			stun_build_str(&b, rt, "test.realm");
			stun_build_str(&b, nt, f->nonce);
		} else {
			stun_build_integrity(&b, &k, mode);
		}
		return stun_build_finish(&b);
	}
	if (!m.mi_off || stun_msg_get_bytes(&m, nt, &p, &l) != 0 || l != strlen(f->nonce) ||
	    memcmp(p, f->nonce, l) || stun_msg_check_integrity(&m, &k, mode) != 0) {
		int code = (m.mi_off && stun_msg_check_integrity(&m, &k, mode) == 0) ? 438 : 401;
		stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_ERROR), stun_msg_tid(&m), bf);
		ms_cookie(f, &b);
		stun_build_error(&b, code, code == 401 ? "Unauthorized" : "Stale Nonce");
		stun_build_str(&b, rt, "test.realm");
		stun_build_str(&b, nt, f->nonce);
		return stun_build_finish(&b);
	}
	if (stun_msg_get_u32(&m, TURN_A_LIFETIME, &life) == 0)
		f->last_lifetime = life;
	if (m.method == TURN_M_ALLOCATE && f->alloc_err) {
		stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_ERROR), stun_msg_tid(&m), bf);
		ms_cookie(f, &b);
		stun_build_error(&b, f->alloc_err, "No");
		if (f->alloc_err == 300)
			stun_build_addr(&b, f->ms ? MSTURN_A_ALTERNATE_SERVER : STUN_A_ALTERNATE_SERVER,
					&f->alt);
		stun_build_integrity(&b, &k, mode);
		return stun_build_finish(&b);
	}
	if (m.method == TURN_M_CREATE_PERMISSION && f->perm_err) {
		stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_ERROR), stun_msg_tid(&m), bf);
		stun_build_error(&b, f->perm_err, "Forbidden");
		stun_build_integrity(&b, &k, mode);
		return stun_build_finish(&b);
	}
success:
	stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_SUCCESS), stun_msg_tid(&m), bf);
	ms_cookie(f, &b);
	if (m.method == TURN_M_ALLOCATE && life != 0) {
		if (f->ms) {
			stun_build_addr(&b, STUN_A_MAPPED_ADDRESS, &relayed);
			stun_build_addr(&b, MSTURN_A_XOR_MAPPED_ADDRESS, &mapped);
			if (!f->no_ms_seq)
				stun_build_attr(&b, MSTURN_A_MS_SEQUENCE_NUMBER, ms_seq_val, 24);
		} else {
			stun_build_addr(&b, TURN_A_XOR_RELAYED_ADDRESS, &relayed);
			stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
		}
	}
	if (m.method == TURN_M_ALLOCATE || m.method == TURN_M_REFRESH)
		stun_build_u32(&b, TURN_A_LIFETIME, life ? (f->lifetime ? f->lifetime : life) : 0);
	stun_build_integrity(&b, &k, mode);
	if (!f->ms)
		stun_build_fingerprint(&b, false);
	return stun_build_finish(&b);
}

/* Send everything due to the fake server and feed its answers back; returns datagrams sent. */
static int exchange_upto(struct turn_alloc *a, struct fake *f, uint64_t now,
			 const struct ice_addr *expect_to, int max)
{
	uint8_t buf[1500], resp[1500];
	struct ice_addr to;
	int n, rn, count = 0;

	for (int guard = 0; guard < max; guard++) {
		n = turn_poll_transmit(a, now, buf, sizeof(buf), &to);
		if (n == 0)
			break;
		assert_true(n > 0);
		assert_true(ice_addr_eq(&to, expect_to ? expect_to : &srv));
		count++;
		rn = fake_serve(f, buf, (size_t)n, resp, sizeof(resp));
		assert_true(rn > 0);
		assert_int_equal(turn_handle(a, now, &to, resp, (size_t)rn), TURN_RX_HANDLED);
	}
	return count;
}

static int exchange(struct turn_alloc *a, struct fake *f, uint64_t now, const struct ice_addr *expect_to)
{
	return exchange_upto(a, f, now, expect_to, 32);
}

static void setup_alloc(struct turn_alloc *a, const char *pass, bool ms)
{
	struct turn_config c = {.server = srv, .user = ms ? "YWxpY2U=" : "alice",
				.pass = pass, .ms_turn = ms, .rng = rng};
	assert_int_equal(turn_init(a, &c), 0);
	assert_int_equal(turn_start(a, 0), 0);
}

static struct turn_event next_ev(struct turn_alloc *a)
{
	struct turn_event ev;
	assert_true(turn_poll_event(a, &ev));
	return ev;
}

static void allocate_ok(struct turn_alloc *a, struct fake *f)
{
	struct turn_event ev;

	setup_alloc(a, "secret", false);
	assert_int_equal(exchange(a, f, 0, NULL), 2); /* unsigned, 401, signed */
	ev = next_ev(a);
	assert_int_equal(ev.type, TURN_EV_ALLOCATED);
	assert_true(ice_addr_eq(&ev.relayed, &relayed));
	assert_true(ice_addr_eq(&ev.mapped, &mapped));
	assert_int_equal(a->state, TURN_S_ALLOCATED);
}

static void test_allocate_challenge(void **state)
{
	struct turn_alloc a;
	struct fake f = {.pass = "secret", .nonce = "n1"};
	uint8_t buf[1500];
	struct ice_addr to;
	struct stun_msg m;
	uint32_t v;
	int n;

	(void)state;
	setup_alloc(&a, "secret", false);
	/* a too small buffer does not consume the transmission */
	assert_int_equal(turn_poll_transmit(&a, 0, buf, 30, &to), TURN_E_NOSPACE);
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	assert_int_equal(stun_parse(&m, buf, (size_t)n, 0), 0);
	assert_int_equal(m.method, TURN_M_ALLOCATE);
	assert_int_equal(stun_msg_get_u32(&m, TURN_A_REQUESTED_TRANSPORT, &v), 0);
	assert_int_equal(v, 17u << 24);
	assert_int_equal(stun_msg_get_u32(&m, TURN_A_LIFETIME, &v), 0);
	assert_int_equal(v, 600);
	assert_int_equal(m.mi_off, 0);
	assert_true(m.flags & STUN_MF_FP_OK);
	assert_int_equal(turn_start(&a, 0), TURN_E_STATE);
	setup_alloc(&a, "secret", false);
	allocate_ok(&a, &f);
	assert_true(f.last_had_mi);
	assert_int_equal(a.lifetime_s, 600);
	/* a stray response (unknown tid) and another sender are not ours */
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	assert_int_equal(n, 0);
	assert_int_equal(turn_handle(&a, 0, &peer1, buf, 0), TURN_RX_NOT_MINE);
}

static void test_refresh_stale_nonce(void **state)
{
	struct turn_alloc a;
	struct fake f = {.pass = "secret", .nonce = "n1"};
	struct turn_event ev;

	(void)state;
	allocate_ok(&a, &f);
	/* 80 % of 600 s */
	assert_int_equal(turn_next_timeout(&a), 480 * S);
	turn_handle_timeout(&a, 479 * S);
	assert_int_equal(exchange(&a, &f, 479 * S, NULL), 0);
	f.nonce = "n2";
	turn_handle_timeout(&a, 480 * S);
	assert_int_equal(exchange(&a, &f, 480 * S, NULL), 2); /* 438, then the new nonce */
	assert_int_equal(f.seen[TURN_M_REFRESH], 2);
	assert_int_equal(f.last_lifetime, 600);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_REFRESHED);
	assert_int_equal(ev.lifetime_s, 600);
	assert_int_equal(turn_next_timeout(&a), 960 * S);
	/* a server that grants less is refreshed sooner */
	f.lifetime = 100;
	assert_int_equal(turn_refresh(&a, 500 * S), 0);
	exchange(&a, &f, 500 * S, NULL);
	assert_int_equal(next_ev(&a).lifetime_s, 100);
	assert_int_equal(turn_next_timeout(&a), 580 * S);
}

static void test_permission_channel_data(void **state)
{
	struct turn_alloc a;
	struct fake f = {.pass = "secret", .nonce = "n1"};
	struct turn_event ev;
	uint8_t out[1500], ind[256];
	struct stun_msg m;
	struct ice_addr p;
	const uint8_t *d;
	size_t dl;
	int n, slot;

	(void)state;
	allocate_ok(&a, &f);
	assert_int_equal(turn_permit(&a, 1 * S, &peer1), 0);
	assert_int_equal(turn_permit(&a, 1 * S, &peer1), 0); /* same IP, same slot */
	exchange(&a, &f, 1 * S, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_PERMISSION);
	assert_true(ice_addr_eq(&ev.peer, &peer1));
	/* no channel yet: a Send indication with XOR-PEER-ADDRESS and DATA */
	n = turn_wrap(&a, &peer1, "hello", 5, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(stun_parse(&m, out, (size_t)n, 0), 0);
	assert_int_equal(m.method, TURN_M_SEND);
	assert_int_equal(m.cls, STUN_C_INDICATION);
	assert_int_equal(stun_msg_get_addr(&m, TURN_A_XOR_PEER_ADDRESS, &p), 0);
	assert_true(ice_addr_eq(&p, &peer1));
	slot = turn_bind_channel(&a, 2 * S, &peer1);
	assert_int_equal(slot, 0);
	exchange(&a, &f, 2 * S, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_CHANNEL_BOUND);
	assert_int_equal(ev.channel, 0x4000);
	n = turn_wrap(&a, &peer1, "hello", 5, out, sizeof(out));
	assert_int_equal(n, 9);
	assert_int_equal(out[0], 0x40);
	assert_int_equal(out[1], 0x00);
	assert_int_equal(turn_unwrap(&a, out, (size_t)n, &p, &d, &dl), 0);
	assert_true(ice_addr_eq(&p, &peer1));
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "hello", 5);
	assert_int_equal(turn_handle(&a, 3 * S, &srv, out, (size_t)n), TURN_RX_DATA);
	/* a Data indication from peer2 */
	{
		struct stun_builder b;
		static const uint8_t tid[12] = {1};
		stun_build_init(&b, ind, sizeof(ind), stun_type(TURN_M_DATA, STUN_C_INDICATION), tid, 0);
		stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &peer2);
		stun_build_attr(&b, TURN_A_DATA, "xyz", 3);
		n = stun_build_finish(&b);
	}
	assert_int_equal(turn_handle(&a, 3 * S, &srv, ind, (size_t)n), TURN_RX_DATA);
	assert_int_equal(turn_unwrap(&a, ind, (size_t)n, &p, &d, &dl), 0);
	assert_true(ice_addr_eq(&p, &peer2));
	assert_int_equal(dl, 3);
	/* unknown channel */
	out[1] = 0x07;
	assert_int_equal(turn_unwrap(&a, out, 9, &p, &d, &dl), TURN_E_NOTFOUND);
	/* permission refreshed at 1+240 s, channel at 2+540 s, allocation at 480 s */
	assert_int_equal(turn_next_timeout(&a), 241 * S);
	turn_handle_timeout(&a, 241 * S);
	assert_int_equal(exchange(&a, &f, 241 * S, NULL), 1);
	assert_int_equal(f.seen[TURN_M_CREATE_PERMISSION], 2);
	assert_false(turn_poll_event(&a, &ev)); /* refreshes are silent */
	assert_int_equal(turn_next_timeout(&a), 480 * S);
	turn_handle_timeout(&a, 480 * S);
	exchange(&a, &f, 480 * S, NULL);
	assert_int_equal(next_ev(&a).type, TURN_EV_REFRESHED);
	assert_int_equal(turn_next_timeout(&a), 481 * S);
	turn_handle_timeout(&a, 481 * S);
	exchange(&a, &f, 481 * S, NULL);
	assert_int_equal(turn_next_timeout(&a), 542 * S);
	turn_handle_timeout(&a, 542 * S);
	assert_int_equal(exchange(&a, &f, 542 * S, NULL), 1);
	assert_int_equal(f.seen[TURN_M_CHANNEL_BIND], 2);
	/* a refused permission */
	f.perm_err = 403;
	assert_int_equal(turn_permit(&a, 600 * S, &peer2), 1);
	exchange(&a, &f, 600 * S, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_PERMISSION_FAILED);
	assert_int_equal(ev.code, 403);
	assert_int_equal(a.state, TURN_S_ALLOCATED);
	/* deallocation: Refresh with LIFETIME 0 */
	assert_int_equal(turn_release(&a, 601 * S), 0);
	exchange(&a, &f, 601 * S, NULL);
	assert_int_equal(f.last_lifetime, 0);
	assert_int_equal(next_ev(&a).type, TURN_EV_DEALLOCATED);
	assert_int_equal(a.state, TURN_S_DEALLOCATED);
	assert_int_equal(turn_next_timeout(&a), UINT64_MAX);
	assert_int_equal(turn_wrap(&a, &peer1, "x", 1, out, sizeof(out)), TURN_E_STATE);
}

static void test_retransmission_unreachable(void **state)
{
	struct turn_alloc a;
	uint8_t buf[1500], first[1500];
	struct ice_addr to;
	struct turn_event ev;
	static const uint64_t at[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
	int n0, n;

	(void)state;
	setup_alloc(&a, "secret", false);
	n0 = turn_poll_transmit(&a, 0, first, sizeof(first), &to);
	assert_true(n0 > 0);
	for (unsigned i = 1; i < 7; i++) {
		assert_int_equal(turn_next_timeout(&a), at[i] * MS);
		turn_handle_timeout(&a, at[i] * MS - 1);
		assert_int_equal(turn_poll_transmit(&a, at[i] * MS - 1, buf, sizeof(buf), &to), 0);
		turn_handle_timeout(&a, at[i] * MS);
		n = turn_poll_transmit(&a, at[i] * MS, buf, sizeof(buf), &to);
		assert_int_equal(n, n0);
		assert_memory_equal(buf, first, (size_t)n); /* same transaction */
	}
	/* Rm * RTO after the last: 31.5 + 8 = 39.5 s */
	assert_int_equal(turn_next_timeout(&a), 39500 * MS);
	turn_handle_timeout(&a, 39500 * MS);
	assert_int_equal(turn_poll_transmit(&a, 39500 * MS, buf, sizeof(buf), &to), 0);
	assert_true(turn_poll_event(&a, &ev));
	assert_int_equal(ev.type, TURN_EV_FAILED);
	assert_int_equal(ev.warn, TURN_WARN_UNREACHABLE);
	assert_int_equal(a.state, TURN_S_FAILED);
	assert_int_equal(turn_next_timeout(&a), UINT64_MAX);
}

static void test_refresh_timeout(void **state)
{
	struct turn_alloc a;
	struct fake f = {.pass = "secret", .nonce = "n1"};
	uint8_t buf[1500];
	struct ice_addr to;
	uint64_t t = 480 * S;

	(void)state;
	allocate_ok(&a, &f);
	turn_handle_timeout(&a, t);
	for (int i = 0; i < 7; i++) {
		assert_true(turn_poll_transmit(&a, t, buf, sizeof(buf), &to) > 0);
		t = turn_next_timeout(&a);
		turn_handle_timeout(&a, t);
	}
	assert_int_equal(t, 480 * S + 39500 * MS);
	assert_int_equal(next_ev(&a).type, TURN_EV_FAILED);
	assert_int_equal(a.warn, TURN_WARN_UNREACHABLE);
}

static void test_wrong_credentials(void **state)
{
	struct turn_alloc a;
	struct fake f = {.pass = "secret", .nonce = "n1"};
	struct turn_event ev;

	(void)state;
	setup_alloc(&a, "wrong", false);
	exchange(&a, &f, 0, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_FAILED);
	assert_int_equal(ev.warn, TURN_WARN_CREDENTIALS);
	assert_int_equal(ev.code, 401);
	/* other allocate errors */
	f.alloc_err = 486;
	setup_alloc(&a, "secret", false);
	exchange(&a, &f, 0, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.warn, TURN_WARN_ALLOC_FAILED);
	assert_int_equal(ev.code, 486);
	f.alloc_err = 403;
	setup_alloc(&a, "secret", false);
	exchange(&a, &f, 0, NULL);
	assert_int_equal(next_ev(&a).warn, TURN_WARN_CREDENTIALS);
}

static void test_alternate_server(void **state)
{
	struct turn_alloc a;
	struct fake f = {.pass = "secret", .nonce = "n1", .alloc_err = 300, .alt = srv2};
	struct turn_event ev;
	uint8_t buf[1500], resp[1500];
	struct ice_addr to;
	int n, rn;

	(void)state;
	setup_alloc(&a, "secret", false);
	assert_int_equal(exchange_upto(&a, &f, 0, NULL, 2), 2); /* 401, then 300 */
	assert_int_equal(a.warn, TURN_WARN_ALTERNATE);
	assert_false(turn_poll_event(&a, &ev));
	/* the next Allocate goes to the alternate, unsigned (new realm/nonce expected) */
	f.alloc_err = 0;
	f.nonce = "other";
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	assert_true(ice_addr_eq(&to, &srv2));
	rn = fake_serve(&f, buf, (size_t)n, resp, sizeof(resp));
	assert_false(f.last_had_mi);
	/* the old server is no longer listened to */
	assert_int_equal(turn_handle(&a, 0, &srv, resp, (size_t)rn), TURN_RX_NOT_MINE);
	assert_int_equal(turn_handle(&a, 0, &srv2, resp, (size_t)rn), TURN_RX_HANDLED);
	exchange(&a, &f, 0, &srv2);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_ALLOCATED);
	/* followed once only */
	f.alloc_err = 300;
	setup_alloc(&a, "secret", false);
	exchange_upto(&a, &f, 0, NULL, 2);
	exchange(&a, &f, 0, &srv2);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_FAILED);
	assert_int_equal(ev.warn, TURN_WARN_ALTERNATE | TURN_WARN_ALLOC_FAILED);
}

static void test_bad_integrity_ignored(void **state)
{
	struct turn_alloc a;
	struct fake f = {.pass = "secret", .nonce = "n1"};
	uint8_t buf[1500], resp[1500];
	struct ice_addr to;
	int n, rn;

	(void)state;
	setup_alloc(&a, "secret", false);
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	rn = fake_serve(&f, buf, (size_t)n, resp, sizeof(resp));
	turn_handle(&a, 0, &srv, resp, (size_t)rn);
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	{
		/* a success signed with another key, and one unsigned: both dropped */
		struct stun_msg m;
		struct stun_builder b;
		struct stun_key k;

		assert_int_equal(stun_parse(&m, buf, (size_t)n, 0), 0);
		stun_key_init_long_term(&k, "alice", "test.realm", "forged");
		for (int signed_ = 0; signed_ < 2; signed_++) {
			stun_build_init(&b, resp, sizeof(resp), stun_type(TURN_M_ALLOCATE, STUN_C_SUCCESS),
					stun_msg_tid(&m), 0);
			stun_build_addr(&b, TURN_A_XOR_RELAYED_ADDRESS, &relayed);
			if (signed_)
				stun_build_integrity(&b, &k, STUN_MI_RFC);
			rn = stun_build_finish(&b);
			assert_int_equal(turn_handle(&a, 0, &srv, resp, (size_t)rn), TURN_RX_HANDLED);
			assert_int_equal(a.state, TURN_S_ALLOCATING);
		}
	}
	/* the genuine answer still counts */
	rn = fake_serve(&f, buf, (size_t)n, resp, sizeof(resp));
	assert_int_equal(turn_handle(&a, 0, &srv, resp, (size_t)rn), TURN_RX_HANDLED);
	assert_int_equal(a.state, TURN_S_ALLOCATED);
}

static void test_ms_turn(void **state)
{
	struct turn_alloc a;
	struct fake f = {.ms = true, .pass = "secret", .nonce = "n1"};
	struct turn_config c = {.server = srv, .user = "YWxpY2U=", .pass = "c2VjcmV0",
				.ms_turn = true, .rng = rng};
	uint8_t buf[1500], resp[1500];
	struct ice_addr to, p;
	struct stun_msg m;
	struct turn_event ev;
	const uint8_t *d;
	uint16_t dl;
	uint32_t v;
	int n, rn;

	(void)state;
	assert_int_equal(turn_init(&a, &c), 0);
	assert_string_equal(a.lt.user, "alice");
	assert_string_equal(a.lt.pass, "secret");
	c.pass = "not base64!";
	assert_int_equal(turn_init(&a, &c), TURN_E_INVAL);
	c.pass = "c2VjcmV0";
	assert_int_equal(turn_init(&a, &c), 0);
	turn_start(&a, 0);
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	assert_int_equal(stun_parse(&m, buf, (size_t)n, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED), 0);
	assert_int_equal(stun_msg_get_u32(&m, MSTURN_A_MAGIC_COOKIE, &v), 0);
	assert_int_equal(v, 0x72c64bc6u);
	assert_int_equal(stun_msg_get_u32(&m, MSTURN_A_MS_VERSION, &v), 0);
	assert_int_equal(v, 1);
	assert_null(stun_msg_find(&m, TURN_A_REQUESTED_TRANSPORT));
	rn = fake_serve(&f, buf, (size_t)n, resp, sizeof(resp));
	/* the 401 carries REALM in 0x0015 and NONCE in 0x0014 */
	assert_int_equal(stun_parse(&m, resp, (size_t)rn, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED), 0);
	assert_int_equal(stun_msg_get_bytes(&m, 0x0015, &d, &dl), 0);
	assert_int_equal(dl, 10);
	assert_memory_equal(d, "test.realm", 10);
	assert_int_equal(turn_handle(&a, 0, &srv, resp, (size_t)rn), TURN_RX_HANDLED);
	assert_int_equal(exchange(&a, &f, 0, NULL), 1);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_ALLOCATED);
	assert_true(ice_addr_eq(&ev.relayed, &relayed));
	assert_true(ice_addr_eq(&ev.mapped, &mapped));
	/* refresh and release are Allocates with LIFETIME ([MS-TURN] has no Refresh) */
	turn_refresh(&a, 1 * S);
	exchange(&a, &f, 1 * S, NULL);
	assert_int_equal(f.seen[TURN_M_ALLOCATE], 3);
	assert_int_equal(next_ev(&a).type, TURN_EV_REFRESHED);
	/* data: a Send request with DESTINATION-ADDRESS and a sequence number */
	assert_int_equal(turn_permit(&a, 1 * S, &peer1), TURN_E_STATE);
	n = turn_wrap(&a, &peer1, "abc", 3, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(stun_parse(&m, buf, (size_t)n, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED), 0);
	assert_int_equal(m.method, MSTURN_M_SEND);
	assert_int_equal(m.cls, STUN_C_REQUEST);
	assert_int_equal(stun_msg_get_addr(&m, MSTURN_A_DESTINATION_ADDRESS, &p), 0);
	assert_true(ice_addr_eq(&p, &peer1));
	assert_int_equal(stun_msg_get_bytes(&m, MSTURN_A_MS_SEQUENCE_NUMBER, &d, &dl), 0);
	assert_int_equal(dl, 24);
	assert_memory_equal(d, ms_seq_val, 20);
	assert_int_equal(d[22], 1);
	assert_int_equal(d[23], 1);
	assert_int_equal(stun_msg_get_bytes(&m, TURN_A_DATA, &d, &dl), 0);
	assert_memory_equal(d, "abc", 3);
	turn_release(&a, 2 * S);
	exchange(&a, &f, 2 * S, NULL);
	assert_int_equal(f.last_lifetime, 0);
	assert_int_equal(next_ev(&a).type, TURN_EV_DEALLOCATED);
}

/* ------------------------------------------------------------------ MS-TURN */

static unsigned msflags(void)
{
	return STUN_PF_MS_ATTRS | STUN_PF_UNPADDED;
}

static void ms_allocate(struct turn_alloc *a, struct fake *f)
{
	setup_alloc(a, "c2VjcmV0", true);
	assert_int_equal(exchange(a, f, 0, NULL), 2);
	assert_int_equal(next_ev(a).type, TURN_EV_ALLOCATED);
}

/* A server message: 16-byte id, MAGIC-COOKIE first (unless told not to), then attributes. */
static int ms_data_ind(uint8_t *out, size_t cap, uint16_t type, bool cookie,
		       const struct ice_addr *from, const char *data)
{
	static const uint8_t tid[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
	struct stun_builder b;
	uint8_t v[8] = {0, 1, (uint8_t)(from->port >> 8), (uint8_t)from->port};

	memcpy(v + 4, from->ip, 4);
	stun_build_init(&b, out, cap, type, tid, STUN_BF_LEGACY | STUN_BF_UNPADDED);
	if (cookie)
		stun_build_u32(&b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
	stun_build_attr(&b, TURN_A_XOR_PEER_ADDRESS, v, sizeof(v)); /* REMOTE-ADDRESS, plain */
	if (data)
		stun_build_str(&b, TURN_A_DATA, data);
	return stun_build_finish(&b);
}

static void test_ms_wire_format(void **state)
{
	struct turn_alloc a;
	struct fake f = {.ms = true, .pass = "secret", .nonce = "n1"};
	uint8_t buf[1500];
	struct ice_addr to;
	struct stun_msg m;
	struct stun_key k;
	const uint8_t *d;
	uint16_t dl;
	int n;

	(void)state;
	setup_alloc(&a, "c2VjcmV0", true);
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	/* [MS-TURN] §2.2.1: no RFC 5389 cookie in the header, 16-byte id; MAGIC-COOKIE first */
	assert_int_equal(stun_classify(buf, (size_t)n), STUN_KIND_LEGACY);
	assert_true(turn_msturn_is_control(buf, (size_t)n));
	assert_int_equal(stun_parse(&m, buf, (size_t)n, msflags()), 0);
	assert_int_equal(m.attr[0].type, MSTURN_A_MAGIC_COOKIE);
	assert_memory_equal(stun_msg_tid(&m), a.tx.tid, 16);
	a.tx.want = true; /* send it again, this time to the fake */
	exchange(&a, &f, 0, NULL);
	assert_int_equal(next_ev(&a).type, TURN_EV_ALLOCATED);
	/* the signed Allocate: REALM (0x0015), NONCE (0x0014), USERNAME, then integrity */
	a.state = TURN_S_ALLOCATED;
	turn_refresh(&a, 0);
	n = turn_poll_transmit(&a, 0, buf, sizeof(buf), &to);
	assert_int_equal(stun_parse(&m, buf, (size_t)n, msflags()), 0);
	assert_int_equal(m.attr[m.nattr - 4].type, 0x0015);
	assert_int_equal(m.attr[m.nattr - 3].type, 0x0014);
	assert_int_equal(m.attr[m.nattr - 2].type, STUN_A_USERNAME);
	assert_int_equal(m.attr[m.nattr - 1].type, STUN_A_MESSAGE_INTEGRITY);
	/* Send: signed with the long-term key (64-byte padded HMAC), REALM but no NONCE */
	n = turn_wrap(&a, &peer1, "media", 5, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(stun_parse(&m, buf, (size_t)n, msflags()), 0);
	assert_int_equal(m.attr[0].type, MSTURN_A_MAGIC_COOKIE);
	stun_key_init_long_term(&k, "alice", "test.realm", "secret");
	assert_int_equal(stun_msg_check_integrity(&m, &k, STUN_MI_PAD64), 0);
	assert_int_equal(stun_msg_get_bytes(&m, STUN_A_USERNAME, &d, &dl), 0);
	assert_memory_equal(d, "alice", 5);
	assert_int_equal(stun_msg_get_bytes(&m, 0x0015, &d, &dl), 0);
	assert_memory_equal(d, "test.realm", 10);
	assert_null(stun_msg_find(&m, 0x0014));
	/* the counter goes up by one per Send */
	assert_int_equal(stun_msg_get_bytes(&m, MSTURN_A_MS_SEQUENCE_NUMBER, &d, &dl), 0);
	assert_int_equal(d[23], 1);
	n = turn_wrap(&a, &peer1, "media", 5, buf, sizeof(buf));
	assert_int_equal(stun_parse(&m, buf, (size_t)n, msflags()), 0);
	assert_int_equal(stun_msg_get_bytes(&m, MSTURN_A_MS_SEQUENCE_NUMBER, &d, &dl), 0);
	assert_int_equal(d[23], 2);
	assert_int_equal(turn_wrap(&a, &peer1, "media", 5, buf, 30), TURN_E_NOSPACE);
}

static void test_ms_no_sequence_number(void **state)
{
	struct turn_alloc a;
	struct fake f = {.ms = true, .pass = "secret", .nonce = "n1", .no_ms_seq = true};
	uint8_t buf[1500];
	struct stun_msg m;
	int n;

	(void)state;
	ms_allocate(&a, &f);
	assert_false(a.ms_seq_valid);
	/* no connection id from the server: none invented */
	n = turn_wrap(&a, &peer1, "x", 1, buf, sizeof(buf));
	assert_int_equal(stun_parse(&m, buf, (size_t)n, msflags()), 0);
	assert_null(stun_msg_find(&m, MSTURN_A_MS_SEQUENCE_NUMBER));
}

static void test_ms_set_active_dest(void **state)
{
	struct turn_alloc a, rfc;
	struct fake f = {.ms = true, .pass = "secret", .nonce = "n1"};
	struct fake fr = {.pass = "secret", .nonce = "n1"};
	uint8_t buf[1500];
	struct ice_addr to, p, bad = {0};
	struct stun_msg m;
	struct turn_event ev;
	const uint8_t *d;
	uint16_t dl;
	size_t sl;
	int n;

	(void)state;
	setup_alloc(&a, "c2VjcmV0", true);
	assert_int_equal(turn_set_active_dest(&a, 0, &peer1), TURN_E_STATE); /* not allocated */
	exchange(&a, &f, 0, NULL);
	next_ev(&a);
	assert_int_equal(turn_set_active_dest(&a, 0, &bad), TURN_E_INVAL);
	assert_int_equal(turn_set_active_dest(NULL, 0, &peer1), TURN_E_INVAL);
	/* RFC 8656 allocations bind channels instead */
	allocate_ok(&rfc, &fr);
	assert_int_equal(turn_set_active_dest(&rfc, 0, &peer1), TURN_E_STATE);

	assert_int_equal(turn_set_active_dest(&a, 1 * S, &peer1), 0);
	assert_int_equal(turn_set_active_dest(&a, 1 * S, &peer1), 0); /* the same: nothing new */
	n = turn_poll_transmit(&a, 1 * S, buf, sizeof(buf), &to);
	assert_true(n > 0);
	assert_int_equal(turn_poll_transmit(&a, 1 * S, buf + 700, 700, &to), 0);
	assert_int_equal(stun_parse(&m, buf, (size_t)n, msflags()), 0);
	assert_int_equal(m.type, 0x0006); /* [MS-TURN] Set Active Destination request */
	assert_int_equal(m.attr[0].type, MSTURN_A_MAGIC_COOKIE);
	assert_int_equal(stun_msg_get_addr(&m, MSTURN_A_DESTINATION_ADDRESS, &p), 0);
	assert_true(ice_addr_eq(&p, &peer1));
	assert_int_equal(stun_msg_get_bytes(&m, MSTURN_A_MS_SEQUENCE_NUMBER, &d, &dl), 0);
	assert_int_equal(d[22], 1); /* the server's 0x100, plus one */
	assert_int_equal(d[23], 1);
	/* until the answer comes, data still goes in Send requests */
	n = turn_wrap(&a, &peer1, "abc", 3, buf, sizeof(buf));
	assert_true(n > 3);
	turn_set_active_dest(&a, 1 * S, &peer1);
	a.sad_tx.want = true; /* resend now, answered by the fake */
	exchange(&a, &f, 1 * S, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_ACTIVE_DEST);
	assert_true(ice_addr_eq(&ev.peer, &peer1));
	assert_int_equal(f.seen[MSTURN_M_SET_ACTIVE_DEST], 1);
	/* now bare data both ways for peer1; Send requests for anyone else */
	assert_int_equal(turn_wrap(&a, &peer1, "abc", 3, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(turn_wrap(&a, &peer1, "abc", 3, buf, 2), TURN_E_NOSPACE);
	assert_true(turn_wrap(&a, &peer2, "abc", 3, buf, sizeof(buf)) > 20);
	memcpy(buf, "\x80\x00rtp-ish", 9);
	assert_int_equal(turn_handle(&a, 2 * S, &srv, buf, 9), TURN_RX_DATA);
	assert_int_equal(turn_handle(&a, 2 * S, &peer1, buf, 9), TURN_RX_NOT_MINE);
	assert_int_equal(turn_unwrap(&a, buf, 9, &p, &d, &sl), 0);
	assert_true(ice_addr_eq(&p, &peer1));
	assert_int_equal(sl, 9);
	/* the peer's own STUN (a relayed check) is data too: no MAGIC-COOKIE first */
	n = ms_data_ind(buf, sizeof(buf), 0x0001, false, &peer1, "chk");
	assert_int_equal(turn_handle(&a, 2 * S, &srv, buf, (size_t)n), TURN_RX_DATA);
	/* releasing stops it */
	turn_release(&a, 3 * S);
	assert_int_equal(a.sad_tx.kind, 0);
}

static void test_ms_set_active_dest_failures(void **state)
{
	struct turn_alloc a;
	struct fake f = {.ms = true, .pass = "secret", .nonce = "n1"};
	uint8_t buf[1500], buf2[1500];
	struct ice_addr to;
	struct turn_event ev;
	struct stun_msg m;
	const uint8_t *d;
	uint16_t dl;
	int n, n2, sends = 0;
	uint64_t now = 1 * S;

	(void)state;
	/* no answer: retransmitted unchanged (same id and number), then failed with 0x4 */
	ms_allocate(&a, &f);
	turn_set_active_dest(&a, now, &peer1);
	n = turn_poll_transmit(&a, now, buf, sizeof(buf), &to);
	sends++;
	while (turn_next_timeout(&a) != UINT64_MAX && sends < 20) {
		now = turn_next_timeout(&a);
		if (now > 200 * S)
			break;
		turn_handle_timeout(&a, now);
		n2 = turn_poll_transmit(&a, now, buf2, sizeof(buf2), &to);
		if (n2 > 0) {
			assert_int_equal(n2, n);
			assert_memory_equal(buf2, buf, (size_t)n);
			sends++;
		}
		if (a.active_state == 0)
			break;
	}
	assert_int_equal(sends, TURN_RC);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_ACTIVE_DEST_FAILED);
	assert_int_equal(ev.code, 0);
	assert_true(ev.warn & TURN_WARN_SEND_FAILED);
	assert_true(ice_addr_eq(&ev.peer, &peer1));
	assert_int_equal(a.state, TURN_S_ALLOCATED); /* the allocation itself stands */

	/* a refusal: its code and 0x4 */
	f.sad_err = 403;
	turn_set_active_dest(&a, now, &peer2);
	exchange(&a, &f, now, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_ACTIVE_DEST_FAILED);
	assert_int_equal(ev.code, 403);
	assert_true(ev.warn & TURN_WARN_SEND_FAILED);
	assert_false(ev.warn & TURN_WARN_CREDENTIALS);

	/* a stale nonce: signed again with a new id and the next number, then accepted */
	f.sad_err = 438;
	f.nonce = "n2";
	turn_set_active_dest(&a, now, &peer1);
	assert_int_equal(exchange(&a, &f, now, NULL), 2);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_ACTIVE_DEST);
	n = turn_wrap(&a, &peer2, "x", 1, buf, sizeof(buf));
	assert_int_equal(stun_parse(&m, buf, (size_t)n, msflags()), 0);
	assert_int_equal(stun_msg_get_bytes(&m, MSTURN_A_MS_SEQUENCE_NUMBER, &d, &dl), 0);
	assert_int_equal(d[23], 5); /* 0x100 + 1 (lost), + 2 (403), + 3 (438), + 4 (ok), + 5 */

	/* credentials refused on Set-Active-Destination: 0x4 and 0x4000 */
	f.pass = "changed";
	turn_set_active_dest(&a, now, &peer2);
	exchange(&a, &f, now, NULL);
	ev = next_ev(&a);
	assert_int_equal(ev.type, TURN_EV_ACTIVE_DEST_FAILED);
	assert_int_equal(ev.code, 401);
	assert_true(ev.warn & TURN_WARN_SEND_FAILED);
	assert_true(ev.warn & TURN_WARN_CREDENTIALS);
}

static void test_ms_bad_answers_ignored(void **state)
{
	struct turn_alloc a;
	struct fake f = {.ms = true, .pass = "secret", .nonce = "n1"};
	uint8_t buf[1500], resp[1500];
	struct ice_addr to;
	struct stun_msg m;
	int n, rn;

	(void)state;
	ms_allocate(&a, &f);
	turn_set_active_dest(&a, 1 * S, &peer1);
	n = turn_poll_transmit(&a, 1 * S, buf, sizeof(buf), &to);
	rn = fake_serve(&f, buf, (size_t)n, resp, sizeof(resp));
	/* without MAGIC-COOKIE first: not MS-TURN control, and no active destination yet */
	assert_int_equal(stun_parse(&m, resp, (size_t)rn, msflags()), 0);
	{
		uint8_t nocookie[1500];
		struct stun_builder b;
		stun_build_init(&b, nocookie, sizeof(nocookie), m.type, stun_msg_tid(&m),
				STUN_BF_LEGACY | STUN_BF_UNPADDED);
		stun_build_u32(&b, MSTURN_A_MS_VERSION, 1);
		n = stun_build_finish(&b);
		assert_int_equal(turn_handle(&a, 1 * S, &srv, nocookie, (size_t)n), TURN_RX_NOT_MINE);
		assert_int_equal(turn_handle(&a, 1 * S, &srv, nocookie, 10), TURN_RX_NOT_MINE);
	}
	/* a broken MESSAGE-INTEGRITY: taken as ours, but nothing changes */
	resp[rn - 1] ^= 1;
	assert_int_equal(turn_handle(&a, 1 * S, &srv, resp, (size_t)rn), TURN_RX_HANDLED);
	assert_int_equal(a.active_state, 1);
	resp[rn - 1] ^= 1;
	/* from elsewhere: not ours */
	assert_int_equal(turn_handle(&a, 1 * S, &peer2, resp, (size_t)rn), TURN_RX_NOT_MINE);
	/* another transaction id: not ours */
	resp[10] ^= 1;
	assert_int_equal(turn_handle(&a, 1 * S, &srv, resp, (size_t)rn), TURN_RX_NOT_MINE);
	resp[10] ^= 1;
	/* a cookie-bearing message our parser rejects (truncated attribute) */
	{
		uint8_t bad[40];
		memcpy(bad, resp, 28);
		bad[2] = 0;
		bad[3] = 12;
		bad[28] = 0x00;
		bad[29] = 0x13;
		bad[30] = 0x00;
		bad[31] = 0x09; /* DATA of 9 bytes in a 4-byte space */
		assert_int_equal(turn_handle(&a, 1 * S, &srv, bad, 32), TURN_RX_NOT_MINE);
	}
	assert_int_equal(turn_handle(&a, 1 * S, &srv, resp, (size_t)rn), TURN_RX_HANDLED);
	assert_int_equal(next_ev(&a).type, TURN_EV_ACTIVE_DEST);
}

static void test_ms_data_indication(void **state)
{
	struct turn_alloc a;
	struct fake f = {.ms = true, .pass = "secret", .nonce = "n1"};
	uint8_t buf[1500];
	struct ice_addr p;
	const uint8_t *d;
	size_t dl;
	int n;

	(void)state;
	ms_allocate(&a, &f);
	/* 0x0115 with a plain REMOTE-ADDRESS */
	n = ms_data_ind(buf, sizeof(buf), MSTURN_T_DATA_IND, true, &peer2, "hello");
	assert_int_equal(turn_handle(&a, 0, &srv, buf, (size_t)n), TURN_RX_DATA);
	assert_int_equal(turn_unwrap(&a, buf, (size_t)n, &p, &d, &dl), 0);
	assert_true(ice_addr_eq(&p, &peer2));
	assert_int_equal(dl, 5);
	assert_memory_equal(d, "hello", 5);
	/* the RFC 8656 Data indication type is not MS-TURN's */
	n = ms_data_ind(buf, sizeof(buf), stun_type(TURN_M_DATA, STUN_C_INDICATION), true, &peer2,
			"hello");
	assert_int_equal(turn_handle(&a, 0, &srv, buf, (size_t)n), TURN_RX_NOT_MINE);
	assert_int_equal(turn_unwrap(&a, buf, (size_t)n, &p, &d, &dl), TURN_E_NOT_TURN);
	/* no DATA */
	n = ms_data_ind(buf, sizeof(buf), MSTURN_T_DATA_IND, true, &peer2, NULL);
	assert_int_equal(turn_unwrap(&a, buf, (size_t)n, &p, &d, &dl), TURN_E_NOT_TURN);
	/* no MAGIC-COOKIE first, no active destination: not TURN */
	n = ms_data_ind(buf, sizeof(buf), MSTURN_T_DATA_IND, false, &peer2, "hello");
	assert_int_equal(turn_handle(&a, 0, &srv, buf, (size_t)n), TURN_RX_NOT_MINE);
	assert_int_equal(turn_unwrap(&a, buf, (size_t)n, &p, &d, &dl), TURN_E_NOT_TURN);
	/* ChannelData means nothing to an Edge client */
	n = stun_channeldata_build(buf, sizeof(buf), 0x4000, "zz", 2, false);
	assert_int_equal(turn_unwrap(&a, buf, (size_t)n, &p, &d, &dl), TURN_E_NOT_TURN);
	/* a REMOTE-ADDRESS of an unknown family */
	n = ms_data_ind(buf, sizeof(buf), MSTURN_T_DATA_IND, true, &peer2, "hello");
	buf[20 + 8 + 4 + 1] = 7;
	assert_int_equal(turn_unwrap(&a, buf, (size_t)n, &p, &d, &dl), TURN_E_NOT_TURN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allocate_challenge),
		cmocka_unit_test(test_refresh_stale_nonce),
		cmocka_unit_test(test_permission_channel_data),
		cmocka_unit_test(test_retransmission_unreachable),
		cmocka_unit_test(test_refresh_timeout),
		cmocka_unit_test(test_wrong_credentials),
		cmocka_unit_test(test_alternate_server),
		cmocka_unit_test(test_bad_integrity_ignored),
		cmocka_unit_test(test_ms_turn),
		cmocka_unit_test(test_ms_wire_format),
		cmocka_unit_test(test_ms_no_sequence_number),
		cmocka_unit_test(test_ms_set_active_dest),
		cmocka_unit_test(test_ms_set_active_dest_failures),
		cmocka_unit_test(test_ms_bad_answers_ignored),
		cmocka_unit_test(test_ms_data_indication),
	};
	addrs();
	return cmocka_run_group_tests_name("turn", tests, NULL, NULL);
}
