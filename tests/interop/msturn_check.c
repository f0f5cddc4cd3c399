/* msturn_check: our MS-TURN codec and client (ice/stun.c, ice/turn.c) against libnice's OC2007
 * TURN client, since no Edge server runs here. A small MS-TURN server built on our codec runs
 * on loopback in a thread; libnice agent A (OC2007 or OC2007R2, force-relay) allocates on it and
 * reaches agent B only through it. Every message libnice sends is parsed by our parser, checked
 * for the MS-TURN specifics, re-encoded by our builder and compared byte for byte, and for Send
 * and Set-Active-Destination also rebuilt by turn.c itself and compared. libnice taking our
 * answers (401, Allocate success, 0x0115 Data Indications, Set-Active-Destination success) is
 * proven by ICE completing and data flowing both ways through the relay.
 * Usage: msturn_check oc2007|oc2007r2 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <nice/agent.h>

#include "stun.h"
#include "turn.h"

#define USER "alice@example.com"
#define USER_B64 "YWxpY2VAZXhhbXBsZS5jb20=" /* base64("alice@example.com"), as MRAS hands out */
#define PASS "s3cret-from-mras"
#define PASS_B64 "czNjcmV0LWZyb20tbXJhcw=="
#define REALM "edge.example"
#define NONCE "0123456789abcdef-nonce"
#define LIFETIME_S 480
#define FIRST_SEQ 7u      /* the number in the Allocate response's MS-SEQUENCE-NUMBER */
#define DATA_NEEDED 5     /* application datagrams each side must receive */
#define RUN_TIMEOUT_S 25

static const uint8_t conn_id[MSTURN_MS_SEQ_CONN_ID_LEN] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
	0xbb, 0xcc, 0xdd, 0xee, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05};

/* ------------------------------------------------------------------ failure reporting */

static atomic_int failures;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	atomic_fetch_add(&failures, 1);
}

static void hexdump(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s (%zu):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", p[i]);
	fprintf(stderr, "\n");
}

static bool same_bytes(const char *what, const uint8_t *want, size_t wn, const uint8_t *got,
		       size_t gn)
{
	if (wn == gn && memcmp(want, got, wn) == 0)
		return true;
	fail("%s: our encoding differs from libnice's", what);
	hexdump("libnice", want, wn);
	hexdump("ours", got, gn);
	return false;
}

/* ------------------------------------------------------------------ the server */

struct srv {
	int ctl, relay;                 /* the TURN port; the relayed address's socket */
	struct ice_addr ctl_addr, relay_addr;
	struct ice_addr client;         /* libnice's host address, learnt from the Allocate */
	bool allocated;
	bool have_active;
	struct ice_addr active;
	struct stun_key key;
	bool seq_started;
	uint32_t last_seq;
	/* what was seen and checked */
	unsigned alloc_unsigned, alloc_signed, sends, sads, raw_in, data_ind_out, raw_out;
	unsigned reencoded, turnc_compared;
	bool alloc_had_lifetime;
	bool alloc_order_same;
	bool seq_first_is_spec;         /* first number FIRST_SEQ + 1 (else libnice's own start) */
	uint32_t seq_first;
	atomic_bool stop;
	/* our own client, fed the same answers, rebuilds libnice's Send / Set-Active-Dest */
	struct turn_alloc mirror;
	uint8_t next_tid[STUN_LEGACY_TID_LEN];
	unsigned tid_pos;
};

static struct srv S;

static void to_sa(const struct ice_addr *a, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(a->port);
	memcpy(&sa->sin_addr, a->ip, 4);
}

static void from_sa(const struct sockaddr_in *sa, struct ice_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = ICE_AF_INET;
	a->port = ntohs(sa->sin_port);
	memcpy(a->ip, &sa->sin_addr, 4);
}

static int udp_bind(struct ice_addr *out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		close(fd);
		return -1;
	}
	from_sa(&sa, out);
	return fd;
}

static void send_to(int fd, const struct ice_addr *to, const uint8_t *p, size_t n)
{
	struct sockaddr_in sa;

	to_sa(to, &sa);
	if (sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof(sa)) != (ssize_t)n)
		fail("sendto: %s", strerror(errno));
}

/* The mirror client's transaction ids: the bytes we hand it are libnice's. */
static uint64_t mirror_rng(void *ctx)
{
	uint64_t v;

	(void)ctx;
	memcpy(&v, S.next_tid + S.tid_pos, 8);
	S.tid_pos = (S.tid_pos + 8) % STUN_LEGACY_TID_LEN;
	return v;
}

static void mirror_tid(const uint8_t *tid)
{
	memcpy(S.next_tid, tid, STUN_LEGACY_TID_LEN);
	S.tid_pos = 0;
}

/* [MS-TURN] §2.1: a plain (non-XOR) address attribute; REMOTE-ADDRESS shares 0x0012 with the
 * RFC's XOR-PEER-ADDRESS, so it is written byte by byte. */
static void build_plain_addr(struct stun_builder *b, uint16_t type, const struct ice_addr *a)
{
	uint8_t v[8] = {0, 0x01, (uint8_t)(a->port >> 8), (uint8_t)a->port};

	memcpy(v + 4, a->ip, 4);
	stun_build_attr(b, type, v, sizeof(v));
}

static void build_start(struct stun_builder *b, uint8_t *out, size_t cap, uint16_t type,
			const uint8_t *tid)
{
	stun_build_init(b, out, cap, type, tid, STUN_BF_LEGACY | STUN_BF_UNPADDED);
	stun_build_u32(b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
}

static int build_401(const struct stun_msg *m, uint8_t *out, size_t cap)
{
	struct stun_builder b;

	build_start(&b, out, cap, stun_type(TURN_M_ALLOCATE, STUN_C_ERROR), stun_msg_tid(m));
	stun_build_error(&b, 401, "Unauthorized");
	stun_build_str(&b, MSTURN_A_REALM, REALM); /* 0x0015 on an Edge */
	stun_build_str(&b, MSTURN_A_NONCE, NONCE); /* 0x0014 */
	return stun_build_finish(&b);
}

static int build_alloc_ok(const struct stun_msg *m, const struct ice_addr *client, uint8_t *out,
			  size_t cap)
{
	struct stun_builder b;
	uint8_t seq[MSTURN_MS_SEQ_LEN];

	memcpy(seq, conn_id, sizeof(conn_id));
	seq[20] = (uint8_t)(FIRST_SEQ >> 24);
	seq[21] = (uint8_t)(FIRST_SEQ >> 16);
	seq[22] = (uint8_t)(FIRST_SEQ >> 8);
	seq[23] = (uint8_t)FIRST_SEQ;
	build_start(&b, out, cap, stun_type(TURN_M_ALLOCATE, STUN_C_SUCCESS), stun_msg_tid(m));
	stun_build_addr(&b, STUN_A_MAPPED_ADDRESS, &S.relay_addr);     /* the relayed address */
	stun_build_addr(&b, MSTURN_A_XOR_MAPPED_ADDRESS, client);     /* the reflexive one */
	stun_build_u32(&b, TURN_A_LIFETIME, LIFETIME_S);
	stun_build_attr(&b, MSTURN_A_MS_SEQUENCE_NUMBER, seq, sizeof(seq));
	stun_build_u32(&b, MSTURN_A_MS_VERSION, MSTURN_VERSION);
	stun_build_integrity(&b, &S.key, STUN_MI_PAD64);
	return stun_build_finish(&b);
}

/* Re-encode a parsed message attribute by attribute with our builder: addresses through the
 * address encoder, MESSAGE-INTEGRITY recomputed with our long-term key. */
static void reencode(const char *what, const struct stun_msg *m)
{
	uint8_t out[STUN_MAX_MSG + 64];
	struct stun_builder b;
	int n;

	stun_build_init(&b, out, sizeof(out), m->type, stun_msg_tid(m),
			STUN_BF_LEGACY | STUN_BF_UNPADDED);
	for (unsigned i = 0; i < m->nattr; i++) {
		const struct stun_attr *a = &m->attr[i];
		const uint8_t *v = stun_attr_value(m, a);
		struct stun_msg one = *m;
		struct ice_addr ad;

		one.nattr = 1;
		one.attr[0] = *a;
		switch (a->type) {
		case STUN_A_MESSAGE_INTEGRITY:
			stun_build_integrity(&b, &S.key, STUN_MI_PAD64);
			break;
		case STUN_A_MAPPED_ADDRESS:
		case MSTURN_A_DESTINATION_ADDRESS:
			if (stun_msg_get_addr(&one, a->type, &ad) != 0) {
				fail("%s: undecodable address attribute 0x%04x", what, a->type);
				return;
			}
			stun_build_addr(&b, a->type, &ad);
			break;
		case MSTURN_A_MAGIC_COOKIE:
		case MSTURN_A_MS_VERSION:
		case TURN_A_LIFETIME: {
			uint32_t u;
			if (stun_msg_get_u32(&one, a->type, &u) != 0) {
				fail("%s: attribute 0x%04x is not 32 bits", what, a->type);
				return;
			}
			stun_build_u32(&b, a->type, u);
			break;
		}
		default:
			stun_build_attr(&b, a->type, v, a->len);
			break;
		}
	}
	n = stun_build_finish(&b);
	if (n < 0) {
		fail("%s: our builder failed: %s", what, stun_strerror(n));
		return;
	}
	if (same_bytes(what, m->buf, m->len, out, (size_t)n))
		S.reencoded++;
}

static bool check_str(const struct stun_msg *m, uint16_t type, const char *want, const char *what)
{
	const uint8_t *p;
	uint16_t l;

	if (stun_msg_get_bytes(m, type, &p, &l) != 0) {
		fail("%s: attribute 0x%04x missing", what, type);
		return false;
	}
	if (l != strlen(want) || memcmp(p, want, l)) {
		fail("%s: attribute 0x%04x is '%.*s', want '%s'", what, type, (int)l, p, want);
		return false;
	}
	return true;
}

static bool check_seq(const struct stun_msg *m, const char *what, uint32_t *seq)
{
	const uint8_t *p;
	uint16_t l;

	if (stun_msg_get_bytes(m, MSTURN_A_MS_SEQUENCE_NUMBER, &p, &l) != 0 || l != MSTURN_MS_SEQ_LEN) {
		fail("%s: no 24-byte MS-SEQUENCE-NUMBER", what);
		return false;
	}
	if (memcmp(p, conn_id, sizeof(conn_id))) {
		fail("%s: MS-SEQUENCE-NUMBER connection id is not the server's", what);
		return false;
	}
	*seq = ((uint32_t)p[20] << 24) | ((uint32_t)p[21] << 16) | ((uint32_t)p[22] << 8) | p[23];
	if (!S.seq_started) {
		S.seq_started = true;
		S.seq_first = *seq;
		S.seq_first_is_spec = *seq == FIRST_SEQ + 1;
	} else if (*seq != S.last_seq + 1) {
		fail("%s: MS-SEQUENCE-NUMBER %u after %u (not incrementing)", what, *seq, S.last_seq);
		return false;
	}
	S.last_seq = *seq;
	return true;
}

/* Our signed Allocate must list libnice's attributes in libnice's order; LIFETIME, which
 * libnice leaves out (the server's default then applies), is the one difference allowed. */
static void compare_allocate(const struct stun_msg *nice, const struct stun_msg *ours)
{
	unsigned i = 0, j = 0;

	while (i < nice->nattr || j < ours->nattr) {
		if (i < nice->nattr && nice->attr[i].type == TURN_A_LIFETIME) {
			i++;
			continue;
		}
		if (j < ours->nattr && ours->attr[j].type == TURN_A_LIFETIME) {
			j++;
			continue;
		}
		if (i >= nice->nattr || j >= ours->nattr || nice->attr[i].type != ours->attr[j].type) {
			fail("Allocate (turn.c): attribute %u is 0x%04x, libnice has 0x%04x", j,
			     j < ours->nattr ? ours->attr[j].type : 0,
			     i < nice->nattr ? nice->attr[i].type : 0);
			return;
		}
		i++;
		j++;
	}
	S.alloc_order_same = true;
}

/* Drive our mirror client through the same Allocate exchange as libnice's. */
static void mirror_allocate(const struct stun_msg *nice)
{
	struct turn_config c = {.server = S.ctl_addr, .user = USER_B64, .pass = PASS_B64,
				.ms_turn = true, .rng = mirror_rng};
	uint8_t buf[STUN_MAX_MSG], resp[STUN_MAX_MSG];
	struct ice_addr to;
	struct stun_msg m;
	struct turn_event ev;
	int n, rn;

	if (turn_init(&S.mirror, &c) != 0 || turn_start(&S.mirror, 0) != 0) {
		fail("mirror: turn_init/start");
		return;
	}
	for (int round = 0; round < 2; round++) {
		n = turn_poll_transmit(&S.mirror, 0, buf, sizeof(buf), &to);
		if (n <= 0 || stun_parse(&m, buf, (size_t)n, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED)) {
			fail("mirror: no Allocate");
			return;
		}
		if (round == 1)
			compare_allocate(nice, &m);
		rn = round == 0 ? build_401(&m, resp, sizeof(resp))
				: build_alloc_ok(&m, &S.client, resp, sizeof(resp));
		if (turn_handle(&S.mirror, 0, &S.ctl_addr, resp, (size_t)rn) != TURN_RX_HANDLED)
			fail("mirror: answer %d not taken", round);
	}
	if (!turn_poll_event(&S.mirror, &ev) || ev.type != TURN_EV_ALLOCATED)
		fail("mirror: not allocated");
}

static void on_allocate(const struct stun_msg *m, const struct ice_addr *from)
{
	uint8_t out[STUN_MAX_MSG];
	uint32_t v;
	int n;

	if (stun_msg_get_u32(m, MSTURN_A_MS_VERSION, &v) != 0 || v != MSTURN_VERSION)
		fail("Allocate: MS-VERSION missing or not 1");
	if (stun_msg_find(m, TURN_A_REQUESTED_TRANSPORT))
		fail("Allocate: carries REQUESTED-TRANSPORT");
	if (stun_msg_find(m, TURN_A_LIFETIME))
		S.alloc_had_lifetime = true;
	if (!m->mi_off) {
		S.alloc_unsigned++;
		if (stun_msg_find(m, STUN_A_USERNAME))
			fail("Allocate: the first, unsigned request names a user");
		n = build_401(m, out, sizeof(out));
		send_to(S.ctl, from, out, (size_t)n);
		return;
	}
	S.alloc_signed++;
	check_str(m, STUN_A_USERNAME, USER, "Allocate USERNAME (base64-decoded)");
	check_str(m, MSTURN_A_REALM, REALM, "Allocate REALM in 0x0015");
	check_str(m, MSTURN_A_NONCE, NONCE, "Allocate NONCE in 0x0014");
	if (stun_msg_check_integrity(m, &S.key, STUN_MI_PAD64) != 0)
		fail("Allocate: MESSAGE-INTEGRITY is not HMAC(MD5(user:realm:pass)) over the 64-padded message");
	reencode("Allocate (signed)", m);
	/* our client's signed Allocate: same attributes in the same order */
	if (!S.allocated) {
		S.client = *from;
		mirror_allocate(m);
	}
	S.allocated = true;
	n = build_alloc_ok(m, from, out, sizeof(out));
	send_to(S.ctl, from, out, (size_t)n);
}

static void on_send(const struct stun_msg *m)
{
	struct ice_addr dest;
	const uint8_t *d;
	uint16_t dl;
	uint32_t v, seq;
	uint8_t ours[STUN_MAX_MSG];
	int n;

	S.sends++;
	if (stun_msg_get_u32(m, MSTURN_A_MS_VERSION, &v) != 0 || v != MSTURN_VERSION)
		fail("Send: MS-VERSION missing or not 1");
	if (!check_seq(m, "Send", &seq))
		return;
	check_str(m, STUN_A_USERNAME, USER, "Send USERNAME");
	if (stun_msg_check_integrity(m, &S.key, STUN_MI_PAD64) != 0)
		fail("Send: MESSAGE-INTEGRITY wrong");
	if (stun_msg_get_addr(m, MSTURN_A_DESTINATION_ADDRESS, &dest) != 0 ||
	    stun_msg_get_bytes(m, TURN_A_DATA, &d, &dl) != 0) {
		fail("Send: no DESTINATION-ADDRESS or DATA");
		return;
	}
	reencode("Send", m);
	/* turn_wrap() of the same data, with libnice's transaction id and number */
	mirror_tid(stun_msg_tid(m));
	S.mirror.ms_seq = seq - 1;
	S.mirror.active_state = 0;
	n = turn_wrap(&S.mirror, &dest, d, dl, ours, sizeof(ours));
	if (n > 0 && same_bytes("Send (turn_wrap)", m->buf, m->len, ours, (size_t)n))
		S.turnc_compared++;
	send_to(S.relay, &dest, d, dl);
}

static void on_sad(const struct stun_msg *m, const struct ice_addr *from)
{
	struct ice_addr dest, to;
	struct stun_builder b;
	uint8_t out[STUN_MAX_MSG];
	uint32_t seq;
	int n;

	S.sads++;
	if (!check_seq(m, "Set-Active-Destination", &seq))
		return;
	check_str(m, STUN_A_USERNAME, USER, "Set-Active-Destination USERNAME");
	if (stun_msg_check_integrity(m, &S.key, STUN_MI_PAD64) != 0)
		fail("Set-Active-Destination: MESSAGE-INTEGRITY wrong");
	if (stun_msg_get_addr(m, MSTURN_A_DESTINATION_ADDRESS, &dest) != 0) {
		fail("Set-Active-Destination: no DESTINATION-ADDRESS");
		return;
	}
	reencode("Set-Active-Destination", m);
	mirror_tid(stun_msg_tid(m));
	S.mirror.ms_seq = seq - 1;
	S.mirror.active_state = 0;
	if (turn_set_active_dest(&S.mirror, 0, &dest) != 0) {
		fail("mirror: turn_set_active_dest");
	} else {
		n = turn_poll_transmit(&S.mirror, 0, out, sizeof(out), &to);
		if (n > 0 && same_bytes("Set-Active-Destination (turn.c)", m->buf, m->len, out,
					(size_t)n))
			S.turnc_compared++;
		turn_handle_timeout(&S.mirror, 0);
	}
	S.active = dest;
	S.have_active = true;
	build_start(&b, out, sizeof(out), stun_type(MSTURN_M_SET_ACTIVE_DEST, STUN_C_SUCCESS),
		    stun_msg_tid(m));
	stun_build_integrity(&b, &S.key, STUN_MI_PAD64);
	n = stun_build_finish(&b);
	send_to(S.ctl, from, out, (size_t)n);
}

static void on_ctl(const uint8_t *p, size_t len, const struct ice_addr *from)
{
	struct stun_msg m;
	int rc;

	if (!turn_msturn_is_control(p, len)) {
		/* after Set-Active-Destination: bare data for the active destination */
		if (!S.have_active) {
			fail("a datagram without MAGIC-COOKIE before any active destination");
			return;
		}
		S.raw_in++;
		send_to(S.relay, &S.active, p, len);
		return;
	}
	rc = stun_parse(&m, p, len, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED);
	if (rc != 0) {
		fail("our parser rejects libnice's message: %s", stun_strerror(rc));
		hexdump("message", p, len);
		return;
	}
	if (m.flags & STUN_MF_COOKIE)
		fail("libnice's MS-TURN header carries the RFC 5389 cookie");
	if (m.cls != STUN_C_REQUEST) {
		fail("libnice sent a non-request 0x%04x", m.type);
		return;
	}
	switch (m.method) {
	case TURN_M_ALLOCATE:
		on_allocate(&m, from);
		break;
	case MSTURN_M_SEND:
		on_send(&m);
		break;
	case MSTURN_M_SET_ACTIVE_DEST:
		on_sad(&m, from);
		break;
	default:
		fail("unexpected method 0x%03x", m.method);
		break;
	}
}

/* From B to the relayed address: to libnice as a 0x0115 Data Indication, or bare once B is the
 * active destination. */
static void on_relay(const uint8_t *p, size_t len, const struct ice_addr *from)
{
	struct stun_builder b;
	uint8_t out[STUN_MAX_MSG + 64], tid[STUN_LEGACY_TID_LEN];
	int n;

	if (!S.allocated)
		return;
	if (S.have_active && ice_addr_eq(from, &S.active)) {
		S.raw_out++;
		send_to(S.ctl, &S.client, p, len);
		return;
	}
	for (unsigned i = 0; i < sizeof(tid); i++)
		tid[i] = (uint8_t)g_random_int();
	build_start(&b, out, sizeof(out), MSTURN_T_DATA_IND, tid);
	build_plain_addr(&b, TURN_A_XOR_PEER_ADDRESS, from); /* REMOTE-ADDRESS */
	stun_build_attr(&b, TURN_A_DATA, p, len);
	n = stun_build_finish(&b);
	if (n < 0) {
		fail("Data Indication build: %s", stun_strerror(n));
		return;
	}
	/* our own client must read what we send libnice */
	{
		struct ice_addr peer;
		const uint8_t *d;
		size_t dl;
		if (turn_unwrap(&S.mirror, out, (size_t)n, &peer, &d, &dl) != 0 ||
		    !ice_addr_eq(&peer, from) || dl != len || memcmp(d, p, len))
			fail("turn_unwrap does not read our Data Indication");
	}
	S.data_ind_out++;
	send_to(S.ctl, &S.client, out, (size_t)n);
}

static void *server_main(void *arg)
{
	uint8_t buf[4096];
	struct pollfd pf[2] = {{.fd = S.ctl, .events = POLLIN}, {.fd = S.relay, .events = POLLIN}};

	(void)arg;
	while (!atomic_load(&S.stop)) {
		if (poll(pf, 2, 50) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			struct sockaddr_in sa;
			socklen_t sl = sizeof(sa);
			struct ice_addr from;
			ssize_t r;

			if (!(pf[i].revents & POLLIN))
				continue;
			r = recvfrom(pf[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, &sl);
			if (r <= 0)
				continue;
			from_sa(&sa, &from);
			if (i == 0)
				on_ctl(buf, (size_t)r, &from);
			else
				on_relay(buf, (size_t)r, &from);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ the two libnice agents */

struct side {
	NiceAgent *agent;
	guint stream;
	gboolean gathered;
	gboolean ready;
	guint received;
	guint sent;
};

static struct side A, B;
static GMainLoop *loop;
static gboolean timed_out;

static void on_gathered(NiceAgent *agent, guint stream_id, gpointer data)
{
	struct side *s = data;

	(void)agent;
	(void)stream_id;
	s->gathered = TRUE;
}

static void on_state(NiceAgent *agent, guint stream_id, guint component_id, guint state,
		     gpointer data)
{
	struct side *s = data;

	(void)agent;
	(void)stream_id;
	(void)component_id;
	if (state == NICE_COMPONENT_STATE_READY)
		s->ready = TRUE;
	if (state == NICE_COMPONENT_STATE_FAILED)
		fail("%s: ICE failed", s == &A ? "A (relayed)" : "B");
}

static void on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
		    gpointer data)
{
	struct side *s = data;

	(void)agent;
	(void)stream_id;
	(void)component_id;
	if (len == 12 && memcmp(buf, "msturn-data-", 12) == 0)
		s->received++;
}

static NiceAgent *make_agent(struct side *s, NiceCompatibility compat, gboolean controlling)
{
	NiceAgent *a = nice_agent_new(g_main_loop_get_context(loop), compat);

	g_object_set(a, "controlling-mode", controlling, "upnp", FALSE, NULL);
	s->agent = a;
	s->stream = nice_agent_add_stream(a, 1);
	g_signal_connect(a, "candidate-gathering-done", G_CALLBACK(on_gathered), s);
	g_signal_connect(a, "component-state-changed", G_CALLBACK(on_state), s);
	nice_agent_attach_recv(a, s->stream, 1, g_main_loop_get_context(loop), on_recv, s);
	return a;
}

static void exchange(struct side *from, struct side *to)
{
	gchar *ufrag = NULL, *pwd = NULL;
	GSList *cands = nice_agent_get_local_candidates(from->agent, from->stream, 1);

	nice_agent_get_local_credentials(from->agent, from->stream, &ufrag, &pwd);
	nice_agent_set_remote_credentials(to->agent, to->stream, ufrag, pwd);
	if (nice_agent_set_remote_candidates(to->agent, to->stream, 1, cands) <= 0)
		fail("set_remote_candidates");
	g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
	g_free(ufrag);
	g_free(pwd);
}

static gboolean on_timeout(gpointer data)
{
	(void)data;
	timed_out = TRUE;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

static gboolean tick(gpointer data)
{
	static gboolean exchanged;
	static const char msg[] = "msturn-data-";

	(void)data;
	if (atomic_load(&failures)) {
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	if (!exchanged && A.gathered && B.gathered) {
		GSList *c = nice_agent_get_local_candidates(A.agent, A.stream, 1);
		gboolean relay = FALSE;
		for (GSList *i = c; i; i = i->next)
			relay |= ((NiceCandidate *)i->data)->type == NICE_CANDIDATE_TYPE_RELAYED;
		g_slist_free_full(c, (GDestroyNotify)nice_candidate_free);
		if (!relay) {
			fail("libnice reports no relay candidate (our Allocate answers refused)");
			g_main_loop_quit(loop);
			return G_SOURCE_REMOVE;
		}
		exchange(&A, &B);
		exchange(&B, &A);
		exchanged = TRUE;
	}
	if (A.ready && B.ready) {
		if (A.sent < 200 && nice_agent_send(A.agent, A.stream, 1, 12, msg) == 12)
			A.sent++;
		if (B.sent < 200 && nice_agent_send(B.agent, B.stream, 1, 12, msg) == 12)
			B.sent++;
	}
	/* done when data went both ways, and after the active destination was set too */
	if (A.received >= DATA_NEEDED && B.received >= DATA_NEEDED && S.raw_in >= DATA_NEEDED &&
	    S.raw_out >= DATA_NEEDED) {
		g_main_loop_quit(loop);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	NiceCompatibility compat;
	pthread_t th;
	char ip[INET_ADDRSTRLEN];

	if (argc != 2 || (strcmp(argv[1], "oc2007") && strcmp(argv[1], "oc2007r2"))) {
		fprintf(stderr, "usage: msturn_check oc2007|oc2007r2\n");
		return 2;
	}
	compat = strcmp(argv[1], "oc2007") ? NICE_COMPATIBILITY_OC2007R2 : NICE_COMPATIBILITY_OC2007;
	S.ctl = udp_bind(&S.ctl_addr);
	S.relay = udp_bind(&S.relay_addr);
	if (S.ctl < 0 || S.relay < 0) {
		fprintf(stderr, "SKIP: no loopback UDP sockets\n");
		return 77;
	}
	stun_key_init_long_term(&S.key, USER, REALM, PASS);
	if (pthread_create(&th, NULL, server_main, NULL)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}

	loop = g_main_loop_new(NULL, FALSE);
	make_agent(&A, compat, TRUE);
	make_agent(&B, compat, FALSE);
	/* A reaches B only through the relay; B has its host candidate on loopback */
	g_object_set(A.agent, "force-relay", TRUE, NULL);
	inet_ntop(AF_INET, S.ctl_addr.ip, ip, sizeof(ip));
	if (!nice_agent_set_relay_info(A.agent, A.stream, 1, ip, S.ctl_addr.port, USER_B64, PASS_B64,
				       NICE_RELAY_TYPE_TURN_UDP))
		fail("nice_agent_set_relay_info");
	for (struct side *s = &A; s; s = s == &A ? &B : NULL) {
		NiceAddress local;
		nice_address_init(&local);
		nice_address_set_from_string(&local, "127.0.0.1");
		nice_agent_add_local_address(s->agent, &local);
		if (!nice_agent_gather_candidates(s->agent, s->stream))
			fail("gather_candidates");
	}
	g_timeout_add(10, tick, NULL);
	g_timeout_add_seconds(RUN_TIMEOUT_S, on_timeout, NULL);
	g_main_loop_run(loop);

	atomic_store(&S.stop, true);
	pthread_join(th, NULL);
	nice_agent_remove_stream(A.agent, A.stream);
	nice_agent_remove_stream(B.agent, B.stream);
	g_object_unref(A.agent);
	g_object_unref(B.agent);
	g_main_loop_unref(loop);
	close(S.ctl);
	close(S.relay);

	printf("%s: Allocate unsigned %u signed %u (LIFETIME %s); Send %u; Set-Active-Destination %u; "
	       "Data Indications out %u; bare in %u out %u; app data A<-B %u B<-A %u\n",
	       argv[1], S.alloc_unsigned, S.alloc_signed, S.alloc_had_lifetime ? "sent" : "absent",
	       S.sends, S.sads, S.data_ind_out, S.raw_in, S.raw_out, A.received, B.received);
	printf("%s: re-encoded byte for byte %u; rebuilt by turn.c byte for byte %u; first "
	       "MS-SEQUENCE-NUMBER %u (server gave %u: %s)\n",
	       argv[1], S.reencoded, S.turnc_compared, S.seq_first, FIRST_SEQ,
	       S.seq_first_is_spec ? "continues the server's number" : "libnice restarts the count");
	if (timed_out)
		fail("timed out after %d s", RUN_TIMEOUT_S);
	if (!S.alloc_order_same)
		fail("turn.c's signed Allocate was not compared with libnice's");
	if (!S.alloc_unsigned || !S.alloc_signed || !S.sends || !S.sads || !S.data_ind_out)
		fail("an MS-TURN step never happened");
	if (S.reencoded < S.alloc_signed + S.sends + S.sads)
		fail("not every message re-encoded identically");
	if (S.turnc_compared < S.sends + S.sads)
		fail("not every Send / Set-Active-Destination rebuilt identically by turn.c");
	if (atomic_load(&failures)) {
		fprintf(stderr, "%d failure(s)\n", atomic_load(&failures));
		return 1;
	}
	printf("%s: ok\n", argv[1]);
	return 0;
}
