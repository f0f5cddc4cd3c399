/* Packet engine tests (dataplane/dp_core.c) on hand-built frames: ARP (RFC 826), drops by
 * reason, relay with header rewrite (checksums recomputed here from scratch, RFC 1071/768),
 * inline ICE answered in place (RFC 8445/8489), RFC 3550 receive statistics, timers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dp_core.h"
#include "stun.h"

#define T0 1700000000000000ull
#define MS(x) ((uint64_t)(x) * 1000)
#define GW_IP 0xcb007101u /* 203.0.113.1 */
#define FCAP 2048

static const uint8_t GW_MAC[6] = {0x02, 0, 0, 0, 0, 0x01};

/* ------------------------------------------------------------------ helpers */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* RFC 1071 one's-complement sum, written independently of dp_pkt.h: 64-bit accumulator of
 * big-endian words, folded once at the end. */
static uint64_t sum_words(uint64_t acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc += (i & 1) ? p[i] : (uint64_t)p[i] << 8;
	return acc;
}
static uint16_t fold(uint64_t acc)
{
	while (acc > 0xffff)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

static bool ip_csum_ok(const uint8_t *ip)
{
	return fold(sum_words(0, ip, (size_t)(ip[0] & 0xf) * 4)) == 0xffff;
}

/* UDP checksum from scratch (RFC 768): pseudo-header + datagram with the field zeroed;
 * a computed 0 is sent as 0xffff. */
static uint16_t udp_csum_ref(const uint8_t *ip, const uint8_t *udp, uint16_t ulen)
{
	uint64_t acc = sum_words(0, ip + 12, 8) + 17 + ulen;
	uint16_t c;

	acc = sum_words(acc, udp, 6);
	acc = sum_words(acc, udp + 8, (size_t)ulen - 8);
	c = (uint16_t)~fold(acc);
	return c ? c : 0xffff;
}

/* Bitwise CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) for FINGERPRINT. */
static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

struct frame_opts {
	unsigned ihl;       /* 32-bit words, 5 = no options */
	bool no_csum;       /* UDP checksum 0 (RFC 768: none computed) */
	uint8_t tos, ttl;
	uint16_t id, frag;  /* frag: flags + offset word */
	uint8_t proto;
	unsigned trailer;   /* Ethernet padding after the IP datagram */
};

static const struct frame_opts DEF = {.ihl = 5, .ttl = 57, .id = 0x1234, .frag = 0x4000,
				      .proto = 17};

/* Ethernet + IPv4 (+ options) + UDP + payload, as a sender would build it. */
static uint16_t mk_udp(uint8_t *f, const uint8_t smac[6], uint32_t sip, uint16_t sport,
		       uint32_t dip, uint16_t dport, const uint8_t *pay, uint16_t plen,
		       const struct frame_opts *o)
{
	uint8_t *ip = f + 14, *udp = ip + o->ihl * 4;
	uint16_t ulen = (uint16_t)(8 + plen), tot = (uint16_t)(o->ihl * 4 + ulen);

	memcpy(f, GW_MAC, 6);
	memcpy(f + 6, smac, 6);
	wr16(f + 12, 0x0800);
	memset(ip, 0, o->ihl * 4);
	ip[0] = (uint8_t)(0x40 | o->ihl);
	ip[1] = o->tos;
	wr16(ip + 2, tot);
	wr16(ip + 4, o->id);
	wr16(ip + 6, o->frag);
	ip[8] = o->ttl;
	ip[9] = o->proto;
	wr32(ip + 12, sip);
	wr32(ip + 16, dip);
	for (unsigned i = 20; i < o->ihl * 4; i++)
		ip[i] = 1; /* NOP options (RFC 791) */
	wr16(ip + 10, (uint16_t)~fold(sum_words(0, ip, o->ihl * 4)));
	wr16(udp, sport);
	wr16(udp + 2, dport);
	wr16(udp + 4, ulen);
	wr16(udp + 6, 0);
	memcpy(udp + 8, pay, plen);
	if (!o->no_csum)
		wr16(udp + 6, udp_csum_ref(ip, udp, ulen));
	memset(f + 14 + tot, 0xee, o->trailer);
	return (uint16_t)(14 + tot + o->trailer);
}

static uint8_t *rtp_pay(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
	p[0] = 0x80;
	p[1] = pt;
	wr16(p + 2, seq);
	wr32(p + 4, ts);
	wr32(p + 8, ssrc);
	return p;
}

struct cap {
	unsigned n, total;
	uint16_t len[64];
	uint8_t f[64][1600];
};

static void emit_cb(void *ctx, const uint8_t *f, uint16_t len)
{
	struct cap *k = ctx;

	k->total++;
	if (k->n < 64 && len <= sizeof(k->f[0])) {
		memcpy(k->f[k->n], f, len);
		k->len[k->n++] = len;
	}
}

static struct dp_core *core_new(struct cap *k)
{
	struct dp_core *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(dp_core_init(c, GW_IP, GW_MAC, 16, 5, calloc, T0), 0);
	c->emit = emit_cb;
	c->emit_ctx = k;
	return c;
}

static void core_del(struct dp_core *c)
{
	dp_core_free(c, free);
	free(c);
}

static int add_plain(struct dp_core *c, const char *name, uint16_t port, bool mux)
{
	struct dp_leg_cfg cfg;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	cfg.port = port;
	cfg.rtcp_mux = mux;
	r = dp_core_add_leg(c, &cfg, T0);
	assert_true(r >= 0);
	return r;
}

/* Process a frame and check that exactly one drop reason moved, by one, on the core. */
static void expect_drop(struct dp_core *c, uint8_t *f, uint16_t len, enum dp_drop why)
{
	uint64_t before[DP_DROP_MAX];
	uint16_t l = len;

	memcpy(before, c->st.drops, sizeof(before));
	if (dp_core_rx(c, T0 + MS(1), f, &l, FCAP) != DP_VERDICT_DROP)
		fail_msg("expected drop %s, frame passed", dp_drop_names[why]);
	for (int i = 0; i < DP_DROP_MAX; i++)
		if (c->st.drops[i] != before[i] + (i == (int)why))
			fail_msg("expected drop '%s', counter '%s' went %llu -> %llu",
				 dp_drop_names[why], dp_drop_names[i], (unsigned long long)before[i],
				 (unsigned long long)c->st.drops[i]);
}

/* ------------------------------------------------------------------ ARP */

static uint16_t mk_arp(uint8_t *f, uint16_t op, const uint8_t sha[6], uint32_t spa,
		       const uint8_t tha[6], uint32_t tpa)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, sha, 6);
	wr16(f + 12, 0x0806);
	wr16(f + 14, 1);      /* ar$hrd: Ethernet */
	wr16(f + 16, 0x0800); /* ar$pro: IPv4 */
	f[18] = 6;
	f[19] = 4;
	wr16(f + 20, op);
	memcpy(f + 22, sha, 6);
	wr32(f + 28, spa);
	memcpy(f + 32, tha, 6);
	wr32(f + 38, tpa);
	return 60; /* padded to the Ethernet minimum */
}

static void test_arp_request_answered(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	static const uint8_t m[6] = {0x02, 0xaa, 0, 0, 0, 0x0a}, zero[6] = {0};
	uint8_t f[FCAP];
	uint16_t len = mk_arp(f, 1, m, 0xc000020a, zero, GW_IP);

	(void)st;
	assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_TX);
	assert_int_equal(len, 60);
	/* RFC 826: swap sender into target, put our addresses in the sender fields, op = reply */
	assert_memory_equal(f, m, 6);
	assert_memory_equal(f + 6, GW_MAC, 6);
	assert_int_equal(rd16(f + 12), 0x0806);
	assert_int_equal(rd16(f + 14), 1);
	assert_int_equal(rd16(f + 16), 0x0800);
	assert_int_equal(f[18], 6);
	assert_int_equal(f[19], 4);
	assert_int_equal(rd16(f + 20), 2);
	assert_memory_equal(f + 22, GW_MAC, 6);
	assert_int_equal(rd32(f + 28), GW_IP);
	assert_memory_equal(f + 32, m, 6);
	assert_int_equal(rd32(f + 38), 0xc000020a);
	assert_int_equal(c->st.arp_replies, 1);
	assert_int_equal(c->st.arp_learned, 1);

	/* a request for another address: not ours to answer */
	len = mk_arp(f, 1, m, 0xc000020a, zero, GW_IP + 1);
	expect_drop(c, f, len, DP_DROP_ARP_OTHER);
	assert_int_equal(c->st.arp_replies, 1);
	core_del(c);
}

static void test_arp_reply_learned_as_nexthop(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	static const uint8_t ma[6] = {2, 0xa, 0, 0, 0, 1}, mb[6] = {2, 0xb, 0, 0, 0, 2};
	struct dp_leg_cfg cfg;
	uint8_t f[FCAP], p[40];
	uint16_t len;
	int a, b;

	(void)st;
	a = add_plain(c, "a", 20000, true);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "b");
	cfg.port = 20002;
	cfg.rtcp_mux = true;
	ice_addr_set_v4(&cfg.default_remote[0], 0xc6336414, 50000); /* 198.51.100.20 */
	b = dp_core_add_leg(c, &cfg, T0);
	assert_int_equal(dp_core_pair(c, (uint32_t)a, (uint32_t)b), 0);
	rtp_pay(p, 0, 1, 160, 0xa);
	len = mk_udp(f, ma, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	/* B's address was never seen and there is no default gateway */
	expect_drop(c, f, len, DP_DROP_NO_NEXTHOP);
	assert_int_equal(c->legs[a].st.drops[DP_DROP_NO_NEXTHOP], 1);

	len = mk_arp(f, 2, mb, 0xc6336414, GW_MAC, GW_IP);
	assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_CONSUMED);
	assert_int_equal(c->st.arp_replies, 0);
	len = mk_udp(f, ma, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_TX);
	assert_memory_equal(f, mb, 6);
	assert_int_equal(rd32(f + 30), 0xc6336414);
	assert_int_equal(rd16(f + 36), 50000);
	core_del(c);
}

/* A TURN server resolved ahead of use (a worker's start): one ARP request from our address,
 * no second one within the second, none once the MAC is known; the leg's first request to the
 * server then leaves at once. Without it, that request is dropped and counted (the client
 * sends it again 500 ms later). */
static void test_arp_resolve_turn_server(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	static const uint8_t ms[6] = {2, 0xc, 0, 0, 0, 0x50};
	const uint32_t srv = 0xc00002c8; /* 192.0.2.200 */
	struct ice_addr to;
	uint8_t f[FCAP], req[20] = {0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42};
	uint16_t len;
	int a;

	(void)st;
	a = add_plain(c, "a", 20000, true);
	ice_addr_set_v4(&to, srv, 3478);
	/* not resolved: the request is dropped and counted on the leg, as a TURN drop */
	assert_int_equal(dp_core_leg_send(c, (uint32_t)a, 1, &to, req, sizeof(req)), 0);
	assert_int_equal(c->legs[a].st.drops[DP_DROP_NO_NEXTHOP], 1);
	assert_int_equal(c->legs[a].turn->drops, 1);
	assert_int_equal(k.total, 1); /* the ARP request it caused */
	core_del(c);

	memset(&k, 0, sizeof(k));
	c = core_new(&k);
	a = add_plain(c, "a", 20000, true);
	assert_true(dp_core_arp_resolve(c, srv, 0, T0));
	assert_int_equal(k.total, 1);
	assert_int_equal(rd16(k.f[0] + 12), 0x0806);
	assert_int_equal(rd16(k.f[0] + 20), 1);      /* a request */
	assert_int_equal(rd32(k.f[0] + 28), GW_IP);  /* from our address */
	assert_int_equal(rd32(k.f[0] + 38), srv);    /* for the server's */
	assert_false(dp_core_arp_resolve(c, srv, 0, T0 + MS(10)));
	assert_false(dp_core_arp_resolve(c, srv, 1, T0 + MS(10))); /* no such local address */
	assert_int_equal(k.total, 1);
	len = mk_arp(f, 2, ms, srv, GW_MAC, GW_IP);
	assert_int_equal(dp_core_rx(c, T0 + MS(20), f, &len, FCAP), DP_VERDICT_CONSUMED);
	assert_false(dp_core_arp_resolve(c, srv, 0, T0 + MS(2000)));
	assert_int_equal(k.total, 1);
	assert_int_equal(dp_core_leg_send(c, (uint32_t)a, 1, &to, req, sizeof(req)), 0);
	assert_int_equal(k.total, 2);
	assert_memory_equal(k.f[1], ms, 6);
	assert_int_equal(rd32(k.f[1] + 30), srv);
	assert_int_equal(c->legs[a].st.drops[DP_DROP_NO_NEXTHOP], 0);
	assert_int_equal(c->legs[a].turn->drops, 0);
	/* with a default gateway MAC nothing needs asking */
	memcpy(c->gw_mac, ms, 6);
	c->have_gw_mac = true;
	assert_false(dp_core_arp_resolve(c, 0xc00002c9, 0, T0 + MS(3000)));
	assert_int_equal(k.total, 2);
	core_del(c);
}

/* ------------------------------------------------------------------ drops */

static void test_drops_by_reason(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	static const uint8_t m[6] = {2, 0xa, 0, 0, 0, 1};
	uint8_t f[FCAP], p[64];
	struct frame_opts o;
	uint16_t len;
	int a;

	(void)st;
	a = add_plain(c, "a", 20000, true);
	rtp_pay(p, 0, 1, 160, 0xa);
	memset(p + 12, 0x55, sizeof(p) - 12);

	memset(f, 0, 64);
	expect_drop(c, f, 10, DP_DROP_NOT_IP); /* runt: not even an Ethernet header */
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, 30, DP_DROP_BAD_IP); /* runt: IPv4 ethertype, no room for the header */
	wr16(f + 12, 0x86dd);
	expect_drop(c, f, len, DP_DROP_NOT_IP);
	wr16(f + 12, 0x8100);
	expect_drop(c, f, len, DP_DROP_NOT_IP);

	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	f[14] = 0x65; /* version 6 */
	expect_drop(c, f, len, DP_DROP_BAD_IP);
	f[14] = 0x44; /* IHL 4 < 5 */
	expect_drop(c, f, len, DP_DROP_BAD_IP);
	f[14] = 0x4f; /* IHL 15: 60 bytes, more than the total length says */
	wr16(f + 16, 40);
	expect_drop(c, f, len, DP_DROP_BAD_IP);
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, (uint16_t)(len - 1), DP_DROP_BAD_IP); /* total length > frame */

	o = DEF;
	o.frag = 0x2000; /* MF */
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &o);
	expect_drop(c, f, len, DP_DROP_FRAGMENT);
	o.frag = 0x0010; /* offset 128, last fragment */
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &o);
	expect_drop(c, f, len, DP_DROP_FRAGMENT);
	o = DEF;
	o.proto = 6;
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &o);
	expect_drop(c, f, len, DP_DROP_NOT_UDP);

	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP + 1, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NOT_FOR_US);

	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	wr16(f + 38, 7); /* UDP length below the header */
	expect_drop(c, f, len, DP_DROP_BAD_UDP);
	wr16(f + 38, (uint16_t)(8 + sizeof(p) + 1)); /* beyond the IP datagram */
	expect_drop(c, f, len, DP_DROP_BAD_UDP);
	wr16(f + 16, 24); /* IP datagram too short for a UDP header */
	expect_drop(c, f, len, DP_DROP_BAD_UDP);

	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20002, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NO_LEG);

	/* RFC 7983 §7: only 0-3 (STUN), 20-63 (DTLS) and 128-191 (RTP/RTCP) are ours */
	{
		static const uint8_t other[] = {4, 15, 16, 19, 64, 79, 80, 127, 192, 255};
		for (size_t i = 0; i < sizeof(other); i++) {
			p[0] = other[i];
			len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
			expect_drop(c, f, len, DP_DROP_UNKNOWN_PAYLOAD);
		}
		assert_int_equal(c->legs[a].st.drops[DP_DROP_UNKNOWN_PAYLOAD], sizeof(other));
		/* the edges of the accepted ranges pass the classifier (and stop at NO_PEER) */
		static const uint8_t ours[] = {20, 63, 128, 191};
		for (size_t i = 0; i < sizeof(ours); i++) {
			p[0] = ours[i];
			len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
			expect_drop(c, f, len, DP_DROP_NO_PEER);
		}
	}
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, 0, &DEF);
	expect_drop(c, f, len, DP_DROP_UNKNOWN_PAYLOAD); /* zero-length payload */
	/* STUN to a leg without ICE */
	p[0] = 0;
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_STUN);
	assert_int_equal(c->st.rx, c->st.drops[DP_DROP_NOT_IP] + c->st.drops[DP_DROP_BAD_IP] +
				   c->st.drops[DP_DROP_FRAGMENT] + c->st.drops[DP_DROP_NOT_UDP] +
				   c->st.drops[DP_DROP_NOT_FOR_US] + c->st.drops[DP_DROP_BAD_UDP] +
				   c->st.drops[DP_DROP_NO_LEG] + c->st.drops[DP_DROP_UNKNOWN_PAYLOAD] +
				   c->st.drops[DP_DROP_NO_PEER] + c->st.drops[DP_DROP_STUN]);
	core_del(c);
}

/* ------------------------------------------------------------------ relay */

/* What a relayed frame must look like: our MAC and address, the peer leg's port, the
 * peer's media address, TTL 64, no options, checksums right (recomputed here). */
static void check_relayed(const uint8_t *out, uint16_t olen, const uint8_t *in,
			  const uint8_t dmac[6], uint16_t oport, uint32_t dip, uint16_t dport)
{
	const uint8_t *iip = in + 14, *iudp = iip + (iip[0] & 0xf) * 4;
	const uint8_t *ip = out + 14, *udp = ip + 20;
	uint16_t ulen = rd16(iudp + 4);

	assert_int_equal(olen, 14 + 20 + ulen);
	assert_memory_equal(out, dmac, 6);
	assert_memory_equal(out + 6, GW_MAC, 6);
	assert_int_equal(rd16(out + 12), 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[1], iip[1]);
	assert_int_equal(rd16(ip + 2), 20 + ulen);
	assert_int_equal(rd16(ip + 4), rd16(iip + 4));
	assert_int_equal(rd16(ip + 6), rd16(iip + 6));
	assert_int_equal(ip[8], 64);
	assert_int_equal(ip[9], 17);
	assert_int_equal(rd32(ip + 12), GW_IP);
	assert_int_equal(rd32(ip + 16), dip);
	assert_true(ip_csum_ok(ip));
	assert_int_equal(rd16(udp), oport);
	assert_int_equal(rd16(udp + 2), dport);
	assert_int_equal(rd16(udp + 4), ulen);
	assert_memory_equal(udp + 8, iudp + 8, ulen - 8);
	if (rd16(iudp + 6) == 0)
		assert_int_equal(rd16(udp + 6), 0); /* RFC 768: no checksum stays none */
	else
		assert_int_equal(rd16(udp + 6), udp_csum_ref(ip, udp, ulen));
}

static void test_relay_plain_random(void **st)
{
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned zero_seen = 0, opt_seen = 0;

	(void)st;
	for (int it = 0; it < 2000; it++) {
		struct cap k = {0};
		struct dp_core *c = core_new(&k);
		uint8_t f[FCAP], in[FCAP], p[1400], ma[6] = {2, 0xa}, mb[6] = {2, 0xb};
		uint16_t pa = (uint16_t)(1024 + rnd(&s) % 30000 * 2), pb = (uint16_t)(pa + 2 + rnd(&s) % 1000 * 2);
		uint32_t ipa = (uint32_t)rnd(&s) | 1, ipb = (uint32_t)rnd(&s) | 2;
		uint16_t porta = (uint16_t)(rnd(&s) | 1), portb = (uint16_t)(rnd(&s) | 1);
		uint16_t plen = (uint16_t)(1 + rnd(&s) % sizeof(p)), len;
		struct frame_opts o = DEF;
		uint64_t r = rnd(&s);
		int a, b;

		if (ipa == GW_IP || ipb == GW_IP || ipa == ipb) {
			core_del(c);
			continue;
		}
		memcpy(ma + 2, &ipa, 4);
		memcpy(mb + 2, &ipb, 4);
		a = add_plain(c, "a", pa, true);
		b = add_plain(c, "b", pb, true);
		assert_int_equal(dp_core_pair(c, (uint32_t)a, (uint32_t)b), 0);
		/* B speaks first: latched, but A has no media address yet */
		rtp_pay(p, 8, 1, 0, 0xb);
		len = mk_udp(f, mb, ipb, portb, GW_IP, pb, p, 12, &DEF);
		expect_drop(c, f, len, DP_DROP_NO_PATH);
		assert_int_equal(c->legs[b].st.drops[DP_DROP_NO_PATH], 1);

		for (uint16_t i = 0; i < plen; i++)
			p[i] = (uint8_t)rnd(&s);
		switch (r % 4) {
		case 0: p[0] = (uint8_t)(20 + r % 44); break;   /* DTLS */
		case 1: p[0] = 0x80; p[1] = 200; break;          /* RTCP SR */
		default: p[0] = (uint8_t)(128 + r % 64); p[1] = (uint8_t)(r >> 8) & 0x7f; break;
		}
		if (plen < 2 && p[0] >= 128)
			p[0] = 0x80;
		o.ihl = (r >> 16) % 3 == 0 ? 5 + (unsigned)(r >> 20) % 11 : 5;
		o.no_csum = (r >> 24) % 8 == 0;
		o.tos = (uint8_t)(r >> 28);
		o.ttl = (uint8_t)(1 + (r >> 36) % 255);
		o.id = (uint16_t)(r >> 40);
		o.frag = (r >> 56) & 1 ? 0x4000 : 0;
		o.trailer = (unsigned)(r >> 57) % 8;
		len = mk_udp(f, ma, ipa, porta, GW_IP, pa, p, plen, &o);
		memcpy(in, f, len);
		zero_seen += o.no_csum;
		opt_seen += o.ihl > 5;
		assert_int_equal(dp_core_rx(c, T0 + MS(2), f, &len, FCAP), DP_VERDICT_TX);
		check_relayed(f, len, in, mb, pb, ipb, portb);
		if (p[0] < 64)
			assert_int_equal(c->legs[a].st.dtls_in, 1);
		else if (p[1] == 200)
			assert_int_equal(c->legs[a].st.rtcp_in, 1);
		else
			assert_int_equal(c->legs[a].st.rtp_in, 1);
		assert_int_equal(c->legs[b].st.pkts_out, 1);
		/* and back: B to A's latched address */
		rtp_pay(p, 8, 2, 160, 0xb);
		len = mk_udp(f, mb, ipb, portb, GW_IP, pb, p, 12, &DEF);
		memcpy(in, f, len);
		assert_int_equal(dp_core_rx(c, T0 + MS(3), f, &len, FCAP), DP_VERDICT_TX);
		check_relayed(f, len, in, ma, pa, ipa, porta);
		/* symmetric latching holds: another source for A is refused */
		len = mk_udp(f, ma, ipa, (uint16_t)(porta ^ 2), GW_IP, pa, p, 12, &DEF);
		expect_drop(c, f, len, DP_DROP_WRONG_SOURCE);
		core_del(c);
	}
	assert_true(zero_seen > 100 && opt_seen > 300);
}

/* A checksum that the incremental update turns into 0x0000 or 0xffff: both are zero in
 * one's complement and must come out as the from-scratch value (never 0, RFC 768). */
static void test_relay_csum_edges(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	uint8_t f[FCAP], in[FCAP], p[14] = {0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xa};
	static const uint8_t ma[6] = {2, 0xa}, mb[6] = {2, 0xb};
	unsigned hits = 0;
	uint16_t len;
	int a = add_plain(c, "a", 20000, true), b = add_plain(c, "b", 20002, true);

	(void)st;
	dp_core_pair(c, (uint32_t)a, (uint32_t)b);
	len = mk_udp(f, mb, 0xc6336414, 50000, GW_IP, 20002, p, 12, &DEF);
	expect_drop(c, f, len, DP_DROP_NO_PATH);
	for (uint32_t w = 0; w < 0x10000; w++) {
		wr16(p + 12, w); /* steer the outgoing checksum through every value */
		len = mk_udp(f, ma, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
		memcpy(in, f, len);
		assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_TX);
		check_relayed(f, len, in, mb, 20002, 0xc6336414, 50000);
		hits += rd16(f + 40) == 0xffff;
	}
	assert_true(hits > 0);
	core_del(c);
}

static void test_relay_rtcp_without_mux(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	static const uint8_t ma[6] = {2, 0xa}, mb[6] = {2, 0xb};
	uint8_t f[FCAP], in[FCAP], p[28] = {0x80, 200};
	uint16_t len;
	int a = add_plain(c, "a", 20000, false), b = add_plain(c, "b", 20002, false);

	(void)st;
	dp_core_pair(c, (uint32_t)a, (uint32_t)b);
	len = mk_udp(f, mb, 0xc6336414, 50001, GW_IP, 20003, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NO_PATH);
	len = mk_udp(f, ma, 0xc000020a, 40001, GW_IP, 20001, p, sizeof(p), &DEF);
	memcpy(in, f, len);
	assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_TX);
	check_relayed(f, len, in, mb, 20003, 0xc6336414, 50001);
	assert_int_equal(c->legs[a].st.rtcp_in, 1);
	/* RTP on component 1 has no path yet: B never sent RTP */
	rtp_pay(p, 0, 1, 0, 1);
	len = mk_udp(f, ma, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NO_PATH);
	core_del(c);
}

/* Two peers whose addresses hash to the same ARP slot must both stay reachable. */
static void test_arp_collision(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	static const uint8_t ma[6] = {2, 0xa}, mb[6] = {2, 0xb};
	const uint32_t ipa = 0xd80449fd, ipb = 0x2dc59e2e; /* same slot of the old table */
	uint8_t f[FCAP], in[FCAP], p[12];
	uint16_t len;
	int a = add_plain(c, "a", 20000, true), b = add_plain(c, "b", 20002, true);

	(void)st;
	dp_core_pair(c, (uint32_t)a, (uint32_t)b);
	rtp_pay(p, 0, 1, 0, 1);
	len = mk_udp(f, mb, ipb, 50000, GW_IP, 20002, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NO_PATH);
	for (int i = 0; i < 3; i++) {
		len = mk_udp(f, ma, ipa, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
		memcpy(in, f, len);
		assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_TX);
		check_relayed(f, len, in, mb, 20002, ipb, 50000);
		len = mk_udp(f, mb, ipb, 50000, GW_IP, 20002, p, sizeof(p), &DEF);
		memcpy(in, f, len);
		assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_TX);
		check_relayed(f, len, in, ma, 20000, ipa, 40000);
	}
	assert_int_equal(c->st.arp_learned, 2);
	core_del(c);
}

/* ------------------------------------------------------------------ ICE */

struct ep {
	struct ice_agent ag;
	struct ice_addr addr;
	uint8_t mac[6];
	uint64_t rng;
	char ufrag[16], pwd[40];
	unsigned rtp_recv;
	uint8_t last[1600];
	uint16_t last_len;
};

static uint64_t ep_rng(void *ctx)
{
	return rnd(ctx);
}

static void ep_init(struct ep *e, uint32_t ip, uint16_t port, uint8_t tag)
{
	struct ice_config cfg;

	memset(e, 0, sizeof(*e));
	ice_addr_set_v4(&e->addr, ip, port);
	memcpy(e->mac, (uint8_t[6]){2, 0xe, 0, 0, 0, tag}, 6);
	e->rng = 1000u + tag;
	snprintf(e->ufrag, sizeof(e->ufrag), "ep%u", tag);
	snprintf(e->pwd, sizeof(e->pwd), "endpointpassword-%u-abcdef", tag);
	memset(&cfg, 0, sizeof(cfg));
	cfg.dialect = ICE_DIALECT_RFC8445;
	cfg.role = ICE_ROLE_CONTROLLING;
	cfg.nomination = ICE_NOM_AGGRESSIVE;
	cfg.ncomp = 1;
	cfg.ufrag = e->ufrag;
	cfg.pwd = e->pwd;
	cfg.rng = ep_rng;
	cfg.rng_ctx = &e->rng;
	assert_int_equal(ice_agent_init(&e->ag, &cfg), 0);
	assert_true(ice_agent_add_local(&e->ag, 1, ICE_CAND_HOST, &e->addr, -1, 65535) >= 0);
}

static int add_ice_leg(struct dp_core *c, const char *name, uint16_t port, const struct ep *e,
		       const char *ufrag, const char *pwd)
{
	struct dp_leg_cfg cfg;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "%s", name);
	cfg.port = port;
	cfg.rtcp_mux = true;
	cfg.ice = true;
	cfg.ice_cfg.dialect = ICE_DIALECT_RFC8445;
	cfg.ice_cfg.role = ICE_ROLE_CONTROLLED;
	cfg.ice_cfg.nomination = ICE_NOM_AGGRESSIVE;
	cfg.ice_cfg.ufrag = ufrag;
	cfg.ice_cfg.pwd = pwd;
	if (e) {
		snprintf(cfg.rufrag, sizeof(cfg.rufrag), "%s", e->ufrag);
		snprintf(cfg.rpwd, sizeof(cfg.rpwd), "%s", e->pwd);
	}
	r = dp_core_add_leg(c, &cfg, T0);
	assert_true(r >= 0);
	return r;
}

struct net {
	struct dp_core *c;
	struct cap k;
	struct ep *ep[2];
	uint64_t now;
};

static void to_gateway(struct net *n, struct ep *e, const struct ice_addr *to, const uint8_t *p,
		       uint16_t plen);

static void to_endpoint(struct net *n, const uint8_t *f, uint16_t len)
{
	uint32_t dip = rd32(f + 30);
	uint16_t dport = rd16(f + 36), ulen = rd16(f + 38);

	assert_true(ip_csum_ok(f + 14));
	for (int i = 0; i < 2; i++) {
		struct ep *e = n->ep[i];
		struct ice_addr local, remote;
		uint8_t rb[1500];
		struct ice_out reply = {.buf = rb, .cap = sizeof(rb)};
		if (!e || ice_addr_v4(&e->addr) != dip || e->addr.port != dport)
			continue;
		memcpy(e->last, f, len);
		e->last_len = len;
		ice_addr_set_v4(&local, dip, dport);
		ice_addr_set_v4(&remote, rd32(f + 26), rd16(f + 34));
		if (f[42] >= 128) {
			e->rtp_recv++;
			return;
		}
		if (ice_agent_recv(&e->ag, n->now, &local, &remote, f + 42, (size_t)ulen - 8,
				   &reply) == ICE_RX_REPLIED)
			to_gateway(n, e, &reply.to, rb, (uint16_t)reply.len);
		return;
	}
}

static void to_gateway(struct net *n, struct ep *e, const struct ice_addr *to, const uint8_t *p,
		       uint16_t plen)
{
	uint8_t f[FCAP];
	uint16_t len = mk_udp(f, e->mac, ice_addr_v4(&e->addr), e->addr.port, ice_addr_v4(to),
			      to->port, p, plen, &DEF);

	if (dp_core_rx(n->c, n->now, f, &len, FCAP) == DP_VERDICT_TX)
		to_endpoint(n, f, len);
}

static void net_flush(struct net *n)
{
	while (n->k.n) {
		struct cap k = n->k;
		n->k.n = 0;
		for (unsigned i = 0; i < k.n; i++)
			to_endpoint(n, k.f[i], k.len[i]);
	}
	for (int i = 0; i < 2; i++) {
		struct ep *e = n->ep[i];
		uint8_t b[1500];
		struct ice_out out = {.buf = b, .cap = sizeof(b)};
		struct ice_event ev;
		if (!e)
			continue;
		if (ice_agent_next_timeout(&e->ag) <= n->now)
			ice_agent_handle_timeout(&e->ag, n->now);
		while (ice_agent_poll_transmit(&e->ag, n->now, &out) == 1)
			to_gateway(n, e, &out.to, b, (uint16_t)out.len);
		while (ice_agent_poll_event(&e->ag, &ev))
			;
	}
	while (n->k.n) {
		struct cap k = n->k;
		n->k.n = 0;
		for (unsigned i = 0; i < k.n; i++)
			to_endpoint(n, k.f[i], k.len[i]);
	}
}

static void connect_ep(struct net *n, uint32_t leg, struct ep *e)
{
	struct dp_leg *l = &n->c->legs[leg];
	struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .foundation = "1"};

	rc.addr = e->addr;
	rc.prio = e->ag.local[0].prio;
	assert_int_equal(dp_core_leg_add_remote(n->c, leg, &rc, n->now), 0);
	rc.addr = l->agent.local[0].addr;
	rc.prio = l->agent.local[0].prio;
	rc.foundation = l->agent.local[0].fnd_str;
	assert_int_equal(ice_agent_set_remote_credentials(&e->ag, l->agent.ufrag, l->agent.pwd), 0);
	assert_true(ice_agent_add_remote(&e->ag, n->now, &rc) >= 0);
	ice_agent_end_of_candidates(&e->ag);
	assert_int_equal(dp_core_start_leg(n->c, leg, n->now), 0);
	assert_int_equal(ice_agent_start(&e->ag, n->now), 0);
}

static void test_relay_ice(void **st)
{
	struct net n = {.now = T0};
	struct ep ea, eb, *spoof;
	uint8_t f[FCAP], in[FCAP], p[172];
	struct ice_addr lo, re;
	uint16_t len;
	int a, b;

	(void)st;
	n.c = core_new(&n.k);
	ep_init(&ea, 0xc000020a, 40000, 1);
	ep_init(&eb, 0xc6336414, 50000, 2);
	n.ep[0] = &ea;
	n.ep[1] = &eb;
	a = add_ice_leg(n.c, "a", 30000, &ea, "gwa1", "gatewaypassword-a-0001");
	b = add_ice_leg(n.c, "b", 30002, &eb, "gwb1", "gatewaypassword-b-0001");
	assert_int_equal(dp_core_pair(n.c, (uint32_t)a, (uint32_t)b), 0);
	connect_ep(&n, (uint32_t)a, &ea);
	connect_ep(&n, (uint32_t)b, &eb);
	for (; n.now < T0 + MS(2000); n.now += MS(1)) {
		dp_core_timers(n.c, n.now);
		net_flush(&n);
		if (n.c->st.ice_completed == 2 && ice_agent_state(&ea.ag) == ICE_STATE_COMPLETED &&
		    ice_agent_state(&eb.ag) == ICE_STATE_COMPLETED)
			break;
	}
	assert_int_equal(n.c->st.ice_completed, 2);
	assert_int_equal(n.c->legs[b].media_state[0], 2);
	assert_true(ice_addr_eq(&n.c->legs[b].media_remote[0], &eb.addr));
	assert_int_equal(ice_agent_selected(&ea.ag, 1, &lo, &re), 0);
	assert_int_equal(re.port, 30000);

	/* media from A's selected address goes to B's selected address, from B's leg port */
	rtp_pay(p, 0, 7, 1120, 0xa11ce);
	for (size_t i = 12; i < sizeof(p); i++)
		p[i] = (uint8_t)(i * 31);
	len = mk_udp(f, ea.mac, 0xc000020a, 40000, GW_IP, 30000, p, sizeof(p), &DEF);
	memcpy(in, f, len);
	assert_int_equal(dp_core_rx(n.c, n.now, f, &len, FCAP), DP_VERDICT_TX);
	check_relayed(f, len, in, eb.mac, 30002, 0xc6336414, 50000);
	assert_int_equal(n.c->legs[b].agent.last_tx_us[0], n.now); /* no keep-alive needed */
	/* and DTLS the other way */
	p[0] = 22;
	len = mk_udp(f, eb.mac, 0xc6336414, 50000, GW_IP, 30002, p, 100, &DEF);
	memcpy(in, f, len);
	assert_int_equal(dp_core_rx(n.c, n.now, f, &len, FCAP), DP_VERDICT_TX);
	check_relayed(f, len, in, ea.mac, 30000, 0xc000020a, 40000);
	assert_int_equal(n.c->legs[b].st.dtls_in, 1);
	/* an address ICE never validated */
	spoof = &ea;
	p[0] = 0x80;
	len = mk_udp(f, spoof->mac, 0xc0000263, 40000, GW_IP, 30000, p, 40, &DEF);
	expect_drop(n.c, f, len, DP_DROP_WRONG_SOURCE);
	len = mk_udp(f, spoof->mac, 0xc000020a, 40002, GW_IP, 30000, p, 40, &DEF);
	expect_drop(n.c, f, len, DP_DROP_WRONG_SOURCE);
	assert_int_equal(n.c->legs[a].st.drops[DP_DROP_WRONG_SOURCE], 2);
	core_del(n.c);
}

/* A Binding request as a controlling peer sends it (RFC 8445 §7.2.2). */
static uint16_t mk_check(uint8_t *buf, size_t cap, const uint8_t tid[12], const char *user,
			 const char *pwd)
{
	struct stun_builder b;
	struct stun_key key;
	int n;

	stun_key_init(&key, pwd, strlen(pwd));
	stun_build_init(&b, buf, cap, stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, user);
	stun_build_u32(&b, ICE_A_PRIORITY, ice_cand_priority(ICE_DIALECT_RFC8445, ICE_CAND_PRFLX,
							      65535, 1));
	stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 0x0102030405060708ull);
	stun_build_attr(&b, ICE_A_USE_CANDIDATE, NULL, 0);
	stun_build_integrity(&b, &key, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	n = stun_build_finish(&b);
	assert_true(n > 0);
	return (uint16_t)n;
}

/* Walk the attributes by hand (RFC 8489 §14): offset of the first of a type, or 0. */
static size_t find_attr(const uint8_t *m, size_t len, uint16_t type)
{
	for (size_t o = 20; o + 4 <= len; o += 4 + ((rd16(m + o + 2) + 3u) & ~3u))
		if (rd16(m + o) == type)
			return o;
	return 0;
}

struct gw_ice {
	struct cap k;
	struct dp_core *c;
	int leg;
};

static void gw_ice_setup(struct gw_ice *g)
{
	struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .foundation = "r1",
				     .prio = 2130706431};
	struct dp_leg_cfg cfg;

	memset(g, 0, sizeof(*g));
	g->c = core_new(&g->k);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "g");
	cfg.port = 20000;
	cfg.rtcp_mux = true;
	cfg.ice = true;
	cfg.ice_cfg.role = ICE_ROLE_CONTROLLED;
	cfg.ice_cfg.nomination = ICE_NOM_AGGRESSIVE;
	cfg.ice_cfg.ufrag = "gwufrag";
	cfg.ice_cfg.pwd = "gatewaypassword-0123456789";
	snprintf(cfg.rufrag, sizeof(cfg.rufrag), "remoteufrag");
	snprintf(cfg.rpwd, sizeof(cfg.rpwd), "remotepassword-0123456789");
	g->leg = dp_core_add_leg(g->c, &cfg, T0);
	assert_true(g->leg >= 0);
	ice_addr_set_v4(&rc.addr, 0xc000020a, 40000);
	assert_int_equal(dp_core_leg_add_remote(g->c, (uint32_t)g->leg, &rc, T0), 0);
	assert_int_equal(dp_core_start_leg(g->c, (uint32_t)g->leg, T0), 0);
}

static void test_ice_answered_in_place(void **st)
{
	struct gw_ice g;
	static const uint8_t rmac[6] = {2, 0xe, 0, 0, 0, 9};
	uint8_t tid[12], m[400], f[FCAP], mac[20], tmp[400];
	const uint8_t *ip = f + 14, *udp = f + 34, *sm = f + 42;
	uint16_t len, mlen, ulen;
	size_t o, mi, fp;
	unsigned mdlen = 0;

	(void)st;
	gw_ice_setup(&g);
	for (int i = 0; i < 12; i++)
		tid[i] = (uint8_t)(0xa0 + i);
	mlen = mk_check(m, sizeof(m), tid, "gwufrag:remoteufrag", "gatewaypassword-0123456789");
	len = mk_udp(f, rmac, 0xc000020a, 40000, GW_IP, 20000, m, mlen, &DEF);
	assert_int_equal(dp_core_rx(g.c, T0 + MS(5), f, &len, FCAP), DP_VERDICT_TX);
	/* addresses and ports swapped, back to the requester's MAC */
	assert_memory_equal(f, rmac, 6);
	assert_memory_equal(f + 6, GW_MAC, 6);
	assert_int_equal(rd32(ip + 12), GW_IP);
	assert_int_equal(rd32(ip + 16), 0xc000020a);
	assert_int_equal(rd16(udp), 20000);
	assert_int_equal(rd16(udp + 2), 40000);
	assert_true(ip_csum_ok(ip));
	ulen = rd16(udp + 4);
	assert_int_equal(len, 14 + 20 + ulen);
	assert_int_equal(rd16(ip + 2), 20 + ulen);
	assert_int_equal(rd16(udp + 6), udp_csum_ref(ip, udp, ulen));
	/* a success response to our transaction (RFC 8489 §6.3) */
	mlen = (uint16_t)(ulen - 8);
	assert_int_equal(rd16(sm), stun_type(STUN_M_BINDING, STUN_C_SUCCESS));
	assert_int_equal(rd16(sm + 2) + 20, mlen);
	assert_int_equal(rd32(sm + 4), STUN_MAGIC_COOKIE);
	assert_memory_equal(sm + 8, tid, 12);
	/* XOR-MAPPED-ADDRESS (RFC 8489 §14.2) decoded by hand: the requester */
	o = find_attr(sm, mlen, STUN_A_XOR_MAPPED_ADDRESS);
	assert_true(o > 0);
	assert_int_equal(rd16(sm + o + 2), 8);
	assert_int_equal(sm[o + 5], 0x01);
	assert_int_equal(rd16(sm + o + 6) ^ (STUN_MAGIC_COOKIE >> 16), 40000);
	assert_int_equal(rd32(sm + o + 8) ^ STUN_MAGIC_COOKIE, 0xc000020a);
	/* MESSAGE-INTEGRITY (RFC 8489 §14.5) with the leg's password, by OpenSSL's HMAC */
	mi = find_attr(sm, mlen, STUN_A_MESSAGE_INTEGRITY);
	assert_true(mi > 0);
	memcpy(tmp, sm, mi);
	wr16(tmp + 2, (uint16_t)(mi + 24 - 20));
	assert_non_null(HMAC(EVP_sha1(), "gatewaypassword-0123456789", 26, tmp, mi, mac, &mdlen));
	assert_int_equal(mdlen, 20);
	assert_memory_equal(sm + mi + 4, mac, 20);
	/* FINGERPRINT (RFC 8489 §14.7): last, CRC-32 of everything before it XOR 0x5354554e */
	fp = find_attr(sm, mlen, STUN_A_FINGERPRINT);
	assert_int_equal(fp + 8, mlen);
	assert_int_equal(rd32(sm + fp + 4), crc32_ref(sm, fp) ^ 0x5354554eu);
	assert_int_equal(g.c->legs[g.leg].st.stun_in, 1);
	assert_int_equal(g.c->legs[g.leg].st.pkts_out, 1);
	core_del(g.c);
}

static void test_ice_wrong_password_431(void **st)
{
	struct gw_ice g;
	static const uint8_t rmac[6] = {2, 0xe, 0, 0, 0, 9};
	uint8_t tid[12] = {1, 2, 3}, m[400], f[FCAP];
	const uint8_t *sm = f + 42;
	uint16_t len, mlen;
	size_t o;

	(void)st;
	gw_ice_setup(&g);
	assert_int_equal(ice_agent_warn(&g.c->legs[g.leg].agent) & 0x400, 0);
	mlen = mk_check(m, sizeof(m), tid, "gwufrag:remoteufrag", "not-the-password");
	len = mk_udp(f, rmac, 0xc000020a, 40000, GW_IP, 20000, m, mlen, &DEF);
	assert_int_equal(dp_core_rx(g.c, T0 + MS(5), f, &len, FCAP), DP_VERDICT_TX);
	assert_true(ip_csum_ok(f + 14));
	assert_int_equal(rd16(f + 40), udp_csum_ref(f + 14, f + 34, rd16(f + 38)));
	assert_int_equal(rd32(f + 30), 0xc000020a);
	assert_int_equal(rd16(sm), stun_type(STUN_M_BINDING, STUN_C_ERROR));
	assert_memory_equal(sm + 8, tid, 12);
	o = find_attr(sm, (size_t)rd16(f + 38) - 8, STUN_A_ERROR_CODE);
	assert_true(o > 0);
	assert_int_equal((sm[o + 6] & 7) * 100 + sm[o + 7], 431); /* RFC 8489 §14.8 */
	assert_int_equal(ice_agent_warn(&g.c->legs[g.leg].agent) & 0x400, 0x400);
	core_del(g.c);
}

static void test_ice_garbage_counted(void **st)
{
	struct gw_ice g;
	static const uint8_t rmac[6] = {2, 0xe, 0, 0, 0, 9};
	uint8_t m[64], f[FCAP];
	uint16_t len;

	(void)st;
	gw_ice_setup(&g);
	/* STUN by its first byte, but the header length does not fit the datagram */
	memset(m, 0, sizeof(m));
	wr16(m, 0x0001);
	wr16(m + 2, 100);
	wr32(m + 4, STUN_MAGIC_COOKIE);
	len = mk_udp(f, rmac, 0xc000020a, 40000, GW_IP, 20000, m, 24, &DEF);
	expect_drop(g.c, f, len, DP_DROP_STUN);
	/* the header fits, an attribute runs past the end */
	wr16(m + 2, 4);
	wr16(m + 20, STUN_A_USERNAME);
	wr16(m + 22, 60);
	len = mk_udp(f, rmac, 0xc000020a, 40000, GW_IP, 20000, m, 24, &DEF);
	expect_drop(g.c, f, len, DP_DROP_STUN);
	/* three bytes: too short for any STUN header */
	len = mk_udp(f, rmac, 0xc000020a, 40000, GW_IP, 20000, m, 3, &DEF);
	expect_drop(g.c, f, len, DP_DROP_STUN);
	assert_int_equal(g.c->legs[g.leg].st.drops[DP_DROP_STUN], 3);
	core_del(g.c);
}

/* ------------------------------------------------------------------ RFC 3550 stats */

struct rtp_rig {
	struct cap k;
	struct dp_core *c;
	int leg;
};

static void rtp_send(struct rtp_rig *r, uint64_t now, uint16_t seq, uint32_t ts)
{
	static const uint8_t m[6] = {2, 0xa};
	uint8_t f[FCAP], p[20];
	uint16_t len;

	memset(p, 0, sizeof(p));
	rtp_pay(p, 0, seq, ts, 0x5eed);
	len = mk_udp(f, m, 0xc000020a, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	/* a leg without a peer: the stats are kept, the frame stops at NO_PEER */
	assert_int_equal(dp_core_rx(r->c, now, f, &len, FCAP), DP_VERDICT_DROP);
}

static void rig_new(struct rtp_rig *r)
{
	memset(r, 0, sizeof(*r));
	r->c = core_new(&r->k);
	r->leg = add_plain(r->c, "a", 20000, true);
}

/* RFC 3550 A.3: expected = extended highest - base + 1; lost = expected - received */
static int64_t rtp_lost(const struct dp_rtp_stats *s)
{
	int64_t expected = (int64_t)s->cycles + s->max_seq - s->base_seq + 1;
	return expected - s->received;
}

static void test_rtp_seq_wrap_and_loss(void **st)
{
	struct rtp_rig r;
	const struct dp_rtp_stats *s;
	unsigned sent = 0;

	(void)st;
	rig_new(&r);
	s = &r.c->legs[r.leg].rtp;
	for (uint32_t i = 0; i < 12; i++)
		rtp_send(&r, T0 + i * MS(20), (uint16_t)(65530 + i), i * 160);
	assert_int_equal(s->cycles, 65536); /* 65535 -> 0 is one cycle */
	assert_int_equal(s->max_seq, 5);
	assert_int_equal(s->received, 12);
	assert_int_equal(rtp_lost(s), 0);
	/* 100 more, every tenth lost */
	for (uint32_t i = 12; i < 112; i++)
		if (i % 10) {
			rtp_send(&r, T0 + i * MS(20), (uint16_t)(65530 + i), i * 160);
			sent++;
		}
	assert_int_equal(s->received, 12 + sent);
	assert_int_equal(rtp_lost(s), 100 - sent);
	/* a duplicate is counted as received, so lost can go down (A.3 allows negative) */
	rtp_send(&r, T0 + MS(3000), 100, 0);
	assert_int_equal(rtp_lost(s), 100 - sent - 1);
	core_del(r.c);
}

static void test_rtp_big_jump(void **st)
{
	struct rtp_rig r;
	const struct dp_rtp_stats *s;

	(void)st;
	rig_new(&r);
	s = &r.c->legs[r.leg].rtp;
	for (uint16_t q = 1000; q < 1010; q++)
		rtp_send(&r, T0 + q * MS(20), q, q * 160u);
	/* RFC 3550 A.1: within MAX_MISORDER (100) behind: a late packet, counted */
	rtp_send(&r, T0 + MS(30000), 1009 - 99, 0);
	assert_int_equal(s->received, 11);
	/* exactly RTP_SEQ_MOD - MAX_MISORDER ahead (100 behind) is already a jump: not counted */
	rtp_send(&r, T0 + MS(30001), 1009 - 100, 0);
	assert_int_equal(s->received, 11);
	/* one jump alone is ignored: the stream goes on */
	rtp_send(&r, T0 + MS(30002), 30000, 0);
	assert_int_equal(s->received, 11);
	assert_int_equal(s->max_seq, 1009);
	rtp_send(&r, T0 + MS(30003), 1010, 0);
	assert_int_equal(s->received, 12);
	assert_int_equal(s->max_seq, 1010);
	/* two in sequence after a jump: the source restarted, statistics start over */
	rtp_send(&r, T0 + MS(30004), 40000, 0);
	assert_int_equal(s->received, 12);
	rtp_send(&r, T0 + MS(30005), 40001, 0);
	assert_int_equal(s->received, 1);
	assert_int_equal(s->base_seq, 40001);
	assert_int_equal(s->max_seq, 40001);
	assert_int_equal(s->cycles, 0);
	rtp_send(&r, T0 + MS(30006), 40002, 0);
	assert_int_equal(s->received, 2);
	assert_int_equal(rtp_lost(s), 0);
	core_del(r.c);
}

static void test_rtp_jitter(void **st)
{
	struct rtp_rig r;
	const struct dp_rtp_stats *s;
	double j = 0; /* RFC 3550 A.8 in floating point: J += (|D| - J) / 16 */

	(void)st;
	rig_new(&r);
	s = &r.c->legs[r.leg].rtp;
	/* constant network delay (30 ms): transit never changes, jitter stays 0 */
	for (uint32_t i = 0; i < 200; i++)
		rtp_send(&r, T0 + MS(30) + i * MS(20), (uint16_t)i, 77 + i * 160);
	assert_int_equal(s->jitter, 0);
	core_del(r.c);

	/* delay alternating 10 ms / 15 ms: |D| is 5 ms = 40 units of an 8 kHz clock each time */
	rig_new(&r);
	s = &r.c->legs[r.leg].rtp;
	for (uint32_t i = 0; i < 400; i++) {
		rtp_send(&r, T0 + MS(10 + 5 * (i & 1)) + i * MS(20), (uint16_t)i, i * 160);
		if (i > 0)
			j += (40.0 - j) / 16.0;
		/* the core keeps J << 4 in integers: within a timestamp unit of the RFC value */
		assert_true(s->jitter / 16.0 > j - 1.0 && s->jitter / 16.0 < j + 1.0);
	}
	assert_true(j > 39.9);
	assert_true((s->jitter >> 4) >= 39 && (s->jitter >> 4) <= 40);
	core_del(r.c);
}

/* ------------------------------------------------------------------ timers */

/* An ICE leg whose peer never answers: checks retransmit, then the agent gives up. One
 * dp_core_timers call over a minute must do what a minute of 1 ms calls does. */
static void run_unanswered(bool one_jump, struct dp_core_stats *out, unsigned *emitted)
{
	struct gw_ice g;

	gw_ice_setup(&g);
	g.c->have_gw_mac = true;
	memcpy(g.c->gw_mac, (uint8_t[6]){2, 0, 0, 0, 0, 0xfe}, 6);
	if (one_jump) {
		dp_core_timers(g.c, T0 + MS(60000));
	} else {
		for (uint64_t t = T0; t <= T0 + MS(60000); t += MS(1))
			dp_core_timers(g.c, t);
	}
	assert_int_equal(g.c->tw.tick, (T0 + MS(60000)) / DP_TW_TICK_US);
	*out = g.c->st;
	*emitted = g.k.total;
	core_del(g.c);
}

static void test_timers_long_jump(void **st)
{
	struct dp_core_stats a, b;
	unsigned na, nb;

	(void)st;
	run_unanswered(false, &a, &na);
	run_unanswered(true, &b, &nb);
	assert_int_equal(a.ice_failed, 1);
	assert_true(na > 1);
	assert_int_equal(b.ice_failed, a.ice_failed);
	assert_int_equal(b.timers_fired, a.timers_fired);
	assert_int_equal(b.tx_generated, a.tx_generated);
	assert_int_equal(nb, na);
}

/* ------------------------------------------------------------------ several addresses */

#define GW_IP2 0xcb007102u /* 203.0.113.2: a second media interface */

/* Interfaces: each address its own port map (one port number on two addresses = two legs),
 * ARP answered for each, relay and ICE sourced from the leg's own address. */
static void test_two_addresses(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	static const uint8_t ma[6] = {2, 0xa, 0, 0, 0, 1}, mb[6] = {2, 0xb, 0, 0, 0, 2}, zero[6] = {0};
	uint32_t ipa = 0xc000020a, ipb = 0xc6336414;
	struct dp_leg_cfg cfg;
	uint8_t f[FCAP], in[FCAP], p[40];
	const uint8_t *ip = f + 14, *udp = f + 34;
	uint16_t len;
	int a, b;

	(void)st;
	assert_int_equal(c->naddr, 1);
	assert_int_equal(dp_core_add_addr(c, GW_IP2), 1);
	assert_int_equal(dp_core_add_addr(c, GW_IP2), -EEXIST);
	assert_int_equal(dp_core_add_addr(c, GW_IP), -EEXIST);
	for (uint32_t i = 2; i < DP_MAX_IFACES; i++)
		assert_int_equal(dp_core_add_addr(c, 0x0a000000u + i), (int)i);
	assert_int_equal(dp_core_add_addr(c, 0x0b000000u), -ENOSPC);

	/* a on the first address, b on the second, both on port 20000 */
	a = add_plain(c, "a", 20000, true);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "b");
	cfg.port = 20000;
	cfg.rtcp_mux = true;
	cfg.iface = 1;
	ice_addr_set_v4(&cfg.default_remote[0], ipb, 50000);
	b = dp_core_add_leg(c, &cfg, T0);
	assert_true(b >= 0);
	assert_int_equal(c->legs[b].iface, 1);
	assert_int_equal(dp_core_add_leg(c, &cfg, T0), -EADDRINUSE);   /* taken on address 1 */
	cfg.iface = DP_MAX_IFACES;
	assert_int_equal(dp_core_add_leg(c, &cfg, T0), -EINVAL);       /* no such address */
	assert_int_equal(dp_core_pair(c, (uint32_t)a, (uint32_t)b), 0);

	/* ARP for the second address answered as that address; for a third-party one not */
	len = mk_arp(f, 1, mb, ipb, zero, GW_IP2);
	assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_TX);
	assert_int_equal(rd16(f + 20), 2);
	assert_int_equal(rd32(f + 28), GW_IP2);
	assert_memory_equal(f + 32, mb, 6);
	len = mk_arp(f, 1, mb, ipb, zero, 0x0b000000u);
	expect_drop(c, f, len, DP_DROP_ARP_OTHER);
	len = mk_arp(f, 2, ma, ipa, GW_MAC, GW_IP2); /* a reply to the second address: learned */
	assert_int_equal(dp_core_rx(c, T0, f, &len, FCAP), DP_VERDICT_CONSUMED);

	/* A -> first address:20000 goes out from the second address:20000 to B */
	rtp_pay(p, 0, 1, 160, 0xa);
	len = mk_udp(f, ma, ipa, 40000, GW_IP, 20000, p, sizeof(p), &DEF);
	memcpy(in, f, len);
	assert_int_equal(dp_core_rx(c, T0 + MS(1), f, &len, FCAP), DP_VERDICT_TX);
	assert_memory_equal(f, mb, 6);
	assert_int_equal(rd32(ip + 12), GW_IP2);
	assert_int_equal(rd32(ip + 16), ipb);
	assert_true(ip_csum_ok(ip));
	assert_int_equal(rd16(udp), 20000);
	assert_int_equal(rd16(udp + 2), 50000);
	assert_int_equal(rd16(udp + 6), udp_csum_ref(ip, udp, rd16(udp + 4)));
	assert_memory_equal(udp + 8, in + 42, sizeof(p));
	/* B -> second address:20000 back out from the first address to A's latched source */
	rtp_pay(p, 0, 1, 160, 0xb);
	len = mk_udp(f, mb, ipb, 50000, GW_IP2, 20000, p, sizeof(p), &DEF);
	assert_int_equal(dp_core_rx(c, T0 + MS(2), f, &len, FCAP), DP_VERDICT_TX);
	assert_memory_equal(f, ma, 6);
	assert_int_equal(rd32(ip + 12), GW_IP);
	assert_int_equal(rd32(ip + 16), ipa);
	assert_int_equal(rd16(udp), 20000);
	assert_int_equal(rd16(udp + 6), udp_csum_ref(ip, udp, rd16(udp + 4)));
	/* a port of a leg on one address is not a leg on another */
	len = mk_udp(f, mb, ipb, 50000, 0x0a000002u, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NO_LEG);
	len = mk_udp(f, mb, ipb, 50000, 0x0b000000u, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NOT_FOR_US);

	/* deleting b frees port 20000 on the second address only */
	assert_int_equal(dp_core_del_leg(c, (uint32_t)b), 0);
	len = mk_udp(f, mb, ipb, 50000, GW_IP2, 20000, p, sizeof(p), &DEF);
	expect_drop(c, f, len, DP_DROP_NO_LEG);
	cfg.iface = 1;
	assert_true(dp_core_add_leg(c, &cfg, T0) >= 0);
	assert_int_equal(dp_core_add_leg(c, &(struct dp_leg_cfg){.port = 20000, .rtcp_mux = true}, T0),
			 -EADDRINUSE);
	core_del(c);
}

/* An ICE leg on the second address: its host candidate, its answers and its own checks
 * (and the ARP request its first check needs) all come from that address. */
static void test_ice_on_second_address(void **st)
{
	struct cap k = {0};
	struct dp_core *c = core_new(&k);
	struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .foundation = "r1",
				     .prio = 2130706431};
	static const uint8_t rmac[6] = {2, 0xe, 0, 0, 0, 9};
	struct dp_leg_cfg cfg;
	uint8_t tid[12] = {9, 8, 7}, m[400], f[FCAP];
	uint16_t len, mlen;
	int leg;

	(void)st;
	assert_int_equal(dp_core_add_addr(c, GW_IP2), 1);
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.name, sizeof(cfg.name), "g2");
	cfg.port = 20000;
	cfg.rtcp_mux = true;
	cfg.ice = true;
	cfg.iface = 1;
	cfg.ice_cfg.role = ICE_ROLE_CONTROLLED;
	cfg.ice_cfg.nomination = ICE_NOM_AGGRESSIVE;
	cfg.ice_cfg.ufrag = "gwufrag";
	cfg.ice_cfg.pwd = "gatewaypassword-0123456789";
	snprintf(cfg.rufrag, sizeof(cfg.rufrag), "remoteufrag");
	snprintf(cfg.rpwd, sizeof(cfg.rpwd), "remotepassword-0123456789");
	leg = dp_core_add_leg(c, &cfg, T0);
	assert_true(leg >= 0);
	assert_int_equal(ice_addr_v4(&c->legs[leg].agent.local[0].addr), GW_IP2);
	ice_addr_set_v4(&rc.addr, 0xc000020a, 40000);
	assert_int_equal(dp_core_leg_add_remote(c, (uint32_t)leg, &rc, T0), 0);
	assert_int_equal(dp_core_start_leg(c, (uint32_t)leg, T0), 0);
	dp_core_timers(c, T0 + MS(100));
	/* the next hop was unknown: an ARP request from the leg's address */
	assert_true(k.n >= 1);
	assert_int_equal(rd16(k.f[0] + 12), 0x0806);
	assert_int_equal(rd32(k.f[0] + 28), GW_IP2);

	mlen = mk_check(m, sizeof(m), tid, "gwufrag:remoteufrag", "gatewaypassword-0123456789");
	len = mk_udp(f, rmac, 0xc000020a, 40000, GW_IP2, 20000, m, mlen, &DEF);
	assert_int_equal(dp_core_rx(c, T0 + MS(150), f, &len, FCAP), DP_VERDICT_TX);
	assert_int_equal(rd32(f + 26), GW_IP2);
	assert_int_equal(rd32(f + 30), 0xc000020a);
	assert_int_equal(rd16(f + 42), stun_type(STUN_M_BINDING, STUN_C_SUCCESS));
	/* the MAC is known now: the gateway's own (triggered) check leaves from GW_IP2 */
	k.n = 0;
	dp_core_timers(c, T0 + MS(300));
	assert_true(k.n >= 1);
	for (unsigned i = 0; i < k.n; i++) {
		assert_int_equal(rd16(k.f[i] + 12), 0x0800);
		assert_int_equal(rd32(k.f[i] + 26), GW_IP2);
		assert_int_equal(rd16(k.f[i] + 34), 20000);
	}
	/* the same check to the first address: no leg there */
	len = mk_udp(f, rmac, 0xc000020a, 40000, GW_IP, 20000, m, mlen, &DEF);
	expect_drop(c, f, len, DP_DROP_NO_LEG);
	core_del(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp_request_answered),
		cmocka_unit_test(test_arp_reply_learned_as_nexthop),
		cmocka_unit_test(test_arp_resolve_turn_server),
		cmocka_unit_test(test_drops_by_reason),
		cmocka_unit_test(test_relay_plain_random),
		cmocka_unit_test(test_relay_csum_edges),
		cmocka_unit_test(test_relay_rtcp_without_mux),
		cmocka_unit_test(test_arp_collision),
		cmocka_unit_test(test_relay_ice),
		cmocka_unit_test(test_ice_answered_in_place),
		cmocka_unit_test(test_ice_wrong_password_431),
		cmocka_unit_test(test_ice_garbage_counted),
		cmocka_unit_test(test_rtp_seq_wrap_and_loss),
		cmocka_unit_test(test_rtp_big_jump),
		cmocka_unit_test(test_rtp_jitter),
		cmocka_unit_test(test_timers_long_jump),
		cmocka_unit_test(test_two_addresses),
		cmocka_unit_test(test_ice_on_second_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
