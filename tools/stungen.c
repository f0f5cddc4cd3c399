/* stungen: write a capture holding one example of every STUN / TURN / MS-ICE2 message
 * kind icegw builds, so an independent decoder (tshark) can judge our encoder. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "icegw_config.h"
#include "pcap_udp.h"
#include "stun.h"

/* Short-term ICE credentials (RFC 8445 §7.2.2) and a TURN long-term account. */
#define ICE_PWD "icegw-remote-password"
#define TURN_USER "alice"
#define TURN_REALM "example.org"
#define TURN_PASS "wonderland"
#define TURN_NONCE "obMatJos2gAAAadl7W7PeDU4hKE72jda"
#define SOFTWARE "icegw stungen " ICEGW_VERSION

struct gen {
	struct pcap_udp_writer w;
	FILE *list;          /* expected decode, one line per frame, tshark field layout */
	const char *rawdir;  /* payload files for the fuzz corpus */
	unsigned frame;
	unsigned tid_seq;
	struct stun_key ice_key, turn_key;
	struct ice_addr cli4, srv4, cli6, srv6, peer4, relay4, alt4;
	int failed;
};

static void next_tid(struct gen *g, uint8_t tid[STUN_LEGACY_TID_LEN])
{
	/* Fixed ids keep the file byte-identical from run to run. */
	static const uint8_t base[STUN_LEGACY_TID_LEN] = {'i', 'c', 'e', 'g', 'w', '-', 't', 'i',
							  'd', 0, 0, 0, 0, 0, 0, 0};
	memcpy(tid, base, sizeof(base));
	g->tid_seq++;
	tid[10] = (uint8_t)(g->tid_seq >> 8);
	tid[11] = (uint8_t)g->tid_seq;
	tid[15] = (uint8_t)g->tid_seq;
}

static void fail(struct gen *g, const char *what, int err)
{
	fprintf(stderr, "icegw-stungen: frame %u (%s): %s\n", g->frame + 1, what,
		err < 0 ? stun_strerror(err) : "self-check failed");
	g->failed = 1;
}

/* The expected tshark view of a frame, derived by parsing what we wrote: type, channel,
 * attribute types, then the decoded IPv4 addresses, IPv6 addresses and ports. */
static void list_frame(struct gen *g, const uint8_t *p, size_t len, const char *name)
{
	char v4[256] = "", v6[256] = "", ports[128] = "";
	size_t o4 = 0, o6 = 0, op = 0;

	if (!g->list)
		return;
	enum stun_kind kind = stun_classify(p, len);
	if (kind == STUN_KIND_CHANNELDATA) {
		fprintf(g->list, "%u\t\t0x%02x%02x\t\t\t\t\n", g->frame, p[0], p[1]);
		return;
	}
	struct stun_msg m;
	int r = stun_parse(&m, p, len, STUN_PF_LEGACY_FP | STUN_PF_MS_ATTRS |
					   (kind == STUN_KIND_LEGACY ? STUN_PF_UNPADDED : 0));
	if (r < 0) {
		fail(g, name, r);
		return;
	}
	fprintf(g->list, "%u\t0x%04x\t\t", g->frame, m.type);
	for (unsigned i = 0; i < m.nattr; i++) {
		struct stun_msg one = m;
		struct ice_addr a;
		char ip[ICE_ADDR_STRLEN];

		fprintf(g->list, "%s0x%04x", i ? "," : "", m.attr[i].type);
		/* decode this instance alone: a type may repeat */
		one.nattr = 1;
		one.attr[0] = m.attr[i];
		if ((m.attr[i].type == STUN_A_MAPPED_ADDRESS || stun_attr_is_xor_addr(m.attr[i].type) ||
		     m.attr[i].type == STUN_A_ALTERNATE_SERVER) &&
		    stun_msg_get_addr(&one, m.attr[i].type, &a) == 0) {
			ice_addr_fmt_ip(&a, ip, sizeof(ip));
			if (a.family == ICE_AF_INET)
				o4 += (size_t)snprintf(v4 + o4, sizeof(v4) - o4, "%s%s", o4 ? "," : "", ip);
			else
				o6 += (size_t)snprintf(v6 + o6, sizeof(v6) - o6, "%s%s", o6 ? "," : "", ip);
			op += (size_t)snprintf(ports + op, sizeof(ports) - op, "%s%u", op ? "," : "",
					       a.port);
		}
	}
	fprintf(g->list, "\t%s\t%s\t%s\n", v4, v6, ports);
}

static void emit(struct gen *g, const char *name, const struct ice_addr *src,
		 const struct ice_addr *dst, const uint8_t *p, int len)
{
	struct timeval ts = {.tv_sec = 1700000000, .tv_usec = 0};

	if (len < 0) {
		fail(g, name, len);
		return;
	}
	ts.tv_sec += g->frame / 1000;
	ts.tv_usec = (suseconds_t)(g->frame % 1000) * 1000;
	if (pcap_udp_write(&g->w, &ts, src, dst, p, (size_t)len) < 0) {
		fail(g, name, STUN_E_NOSPACE);
		return;
	}
	g->frame++;
	list_frame(g, p, (size_t)len, name);
	if (g->rawdir) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/gen-%02u-%s", g->rawdir, g->frame, name);
		f = fopen(path, "wb");
		if (!f || fwrite(p, 1, (size_t)len, f) != (size_t)len) {
			fprintf(stderr, "icegw-stungen: %s: %s\n", path, strerror(errno));
			g->failed = 1;
		}
		if (f)
			fclose(f);
	}
}

/* Our own parser must accept what our builder wrote, and the MAC must verify. */
static void self_check(struct gen *g, const char *name, const uint8_t *p, int len,
		       const struct stun_key *key, enum stun_mi_mode mode, unsigned pflags)
{
	struct stun_msg m;
	int r;

	if (len < 0)
		return;
	r = stun_parse(&m, p, (size_t)len, pflags);
	if (r == 0 && key)
		r = stun_msg_check_integrity(&m, key, mode);
	if (r < 0)
		fail(g, name, r);
}

static void add_auth_lt(struct stun_builder *b)
{
	stun_build_str(b, STUN_A_USERNAME, TURN_USER);
	stun_build_str(b, STUN_A_REALM, TURN_REALM);
	stun_build_str(b, STUN_A_NONCE, TURN_NONCE);
}

/* Close a message with MESSAGE-INTEGRITY and FINGERPRINT and write it. */
static void finish(struct gen *g, const char *name, struct stun_builder *b,
		   const struct stun_key *key, enum stun_mi_mode mode, bool legacy_fp,
		   const struct ice_addr *src, const struct ice_addr *dst)
{
	int len;

	if (key)
		stun_build_integrity(b, key, mode);
	stun_build_fingerprint(b, legacy_fp);
	len = stun_build_finish(b);
	self_check(g, name, b->buf, len, key, mode, legacy_fp ? STUN_PF_LEGACY_FP : 0);
	emit(g, name, src, dst, b->buf, len);
}

static void gen_ice(struct gen *g)
{
	uint8_t buf[STUN_MAX_MSG], tid[STUN_LEGACY_TID_LEN];
	struct stun_builder b;
	static const uint16_t unknown[] = {0x0031, 0x0042};

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "rmtU:locU");
	stun_build_u32(&b, ICE_A_PRIORITY, 0x6e0001ffu);
	stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 0x0123456789abcdefull);
	stun_build_attr(&b, ICE_A_USE_CANDIDATE, NULL, 0);
	stun_build_str(&b, STUN_A_SOFTWARE, SOFTWARE);
	finish(g, "binding-req", &b, &g->ice_key, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_SUCCESS), tid, 0);
	stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &g->cli4);
	finish(g, "binding-ok-v4", &b, &g->ice_key, STUN_MI_RFC, false, &g->srv4, &g->cli4);

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "rmtU:locU");
	stun_build_u32(&b, ICE_A_PRIORITY, 0x7e7f00ffu);
	stun_build_u64(&b, ICE_A_ICE_CONTROLLED, 0xfedcba9876543210ull);
	finish(g, "binding-req-v6", &b, &g->ice_key, STUN_MI_RFC, false, &g->cli6, &g->srv6);

	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_SUCCESS), tid, 0);
	stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &g->cli6);
	stun_build_str(&b, STUN_A_SOFTWARE, SOFTWARE);
	finish(g, "binding-ok-v6", &b, &g->ice_key, STUN_MI_RFC, false, &g->srv6, &g->cli6);

	/* RFC 8489 §9.1.3 and RFC 8445 §7.3.1.1: the error replies a Binding request can get */
	static const struct {
		int code;
		const char *reason;
		bool mi;
	} errs[] = {
		{401, "Unauthorized", false},
		{420, "Unknown Attribute", true},
		{431, "Integrity Check Failure", false},
		{487, "Role Conflict", true},
	};
	for (unsigned i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		char name[32];

		next_tid(g, tid);
		stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid,
				0);
		stun_build_str(&b, STUN_A_USERNAME, "rmtU:locU");
		stun_build_u32(&b, ICE_A_PRIORITY, 0x6e0001feu);
		stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 0x1111222233334444ull + i);
		snprintf(name, sizeof(name), "binding-req-%d", errs[i].code);
		finish(g, name, &b, &g->ice_key, STUN_MI_RFC, false, &g->cli4, &g->srv4);

		stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_ERROR), tid, 0);
		stun_build_error(&b, errs[i].code, errs[i].reason);
		if (errs[i].code == 420)
			stun_build_unknown(&b, unknown, 2);
		snprintf(name, sizeof(name), "binding-err-%d", errs[i].code);
		finish(g, name, &b, errs[i].mi ? &g->ice_key : NULL, STUN_MI_RFC, false, &g->srv4,
		       &g->cli4);
	}

	/* RFC 8489 §14.6: SHA-256 integrity, which our key type has no builder for. */
	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "rmtU:locU");
	stun_build_u32(&b, ICE_A_PRIORITY, 0x6e0001fdu);
	stun_build_u64(&b, ICE_A_ICE_CONTROLLED, 0x5555666677778888ull);
	{
		uint8_t mac[32];
		unsigned int maclen = 0;
		size_t body = b.len;

		/* the length the MAC sees counts the SHA-256 attribute itself */
		buf[2] = (uint8_t)((body + 4 + 32 - STUN_HDR_LEN) >> 8);
		buf[3] = (uint8_t)(body + 4 + 32 - STUN_HDR_LEN);
		HMAC(EVP_sha256(), ICE_PWD, (int)strlen(ICE_PWD), buf, body, mac, &maclen);
		stun_build_attr(&b, STUN_A_MESSAGE_INTEGRITY_SHA256, mac, sizeof(mac));
		stun_build_fingerprint(&b, false);
		int len = stun_build_finish(&b);
		struct stun_msg m;
		int r = len < 0 ? len : stun_parse(&m, buf, (size_t)len, 0);
		if (r == 0)
			r = stun_msg_check_integrity_sha256(&m, ICE_PWD, strlen(ICE_PWD));
		if (r < 0)
			fail(g, "binding-req-sha256", r);
		emit(g, "binding-req-sha256", &g->cli4, &g->srv4, buf, len);
	}
}

static void gen_turn(struct gen *g)
{
	uint8_t buf[STUN_MAX_MSG], tid[STUN_LEGACY_TID_LEN], out[256];
	struct stun_builder b;
	static const uint8_t token[8] = {0x72, 0x65, 0x73, 0x76, 0x2d, 0x74, 0x6f, 0x6b};
	static const uint8_t media[] = "RTP-ish media payload through the relay";
	const uint8_t even_port = 0x80; /* RFC 8656 §18.7: R bit, reserve the next port */
	const uint32_t udp = 17u << 24; /* RFC 8656 §18.8: protocol in the first byte */

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_REQUEST), tid, 0);
	stun_build_u32(&b, TURN_A_REQUESTED_TRANSPORT, udp);
	stun_build_u32(&b, TURN_A_LIFETIME, 600);
	stun_build_attr(&b, TURN_A_EVEN_PORT, &even_port, 1);
	stun_build_attr(&b, TURN_A_DONT_FRAGMENT, NULL, 0);
	stun_build_str(&b, STUN_A_SOFTWARE, SOFTWARE);
	finish(g, "allocate-req", &b, NULL, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_ERROR), tid, 0);
	stun_build_error(&b, 401, "Unauthorized");
	stun_build_str(&b, STUN_A_REALM, TURN_REALM);
	stun_build_str(&b, STUN_A_NONCE, TURN_NONCE);
	stun_build_str(&b, STUN_A_SOFTWARE, SOFTWARE);
	finish(g, "allocate-401", &b, NULL, STUN_MI_RFC, false, &g->srv4, &g->cli4);

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_REQUEST), tid, 0);
	stun_build_u32(&b, TURN_A_REQUESTED_TRANSPORT, udp);
	stun_build_u32(&b, TURN_A_LIFETIME, 600);
	stun_build_attr(&b, TURN_A_EVEN_PORT, &even_port, 1);
	stun_build_attr(&b, TURN_A_DONT_FRAGMENT, NULL, 0);
	add_auth_lt(&b);
	finish(g, "allocate-req-auth", &b, &g->turn_key, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_SUCCESS), tid, 0);
	stun_build_addr(&b, TURN_A_XOR_RELAYED_ADDRESS, &g->relay4);
	stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &g->cli4);
	stun_build_u32(&b, TURN_A_LIFETIME, 600);
	stun_build_attr(&b, TURN_A_RESERVATION_TOKEN, token, sizeof(token));
	stun_build_str(&b, STUN_A_SOFTWARE, SOFTWARE);
	finish(g, "allocate-ok", &b, &g->turn_key, STUN_MI_RFC, false, &g->srv4, &g->cli4);

	/* RFC 8489 §10: 300 Try Alternate points the client elsewhere */
	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_REQUEST), tid, 0);
	stun_build_u32(&b, TURN_A_REQUESTED_TRANSPORT, udp);
	add_auth_lt(&b);
	finish(g, "allocate-req-2", &b, &g->turn_key, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_ERROR), tid, 0);
	stun_build_error(&b, 300, "Try Alternate");
	stun_build_addr(&b, STUN_A_ALTERNATE_SERVER, &g->alt4);
	stun_build_str(&b, STUN_A_REALM, TURN_REALM);
	stun_build_str(&b, STUN_A_NONCE, TURN_NONCE);
	finish(g, "allocate-300", &b, &g->turn_key, STUN_MI_RFC, false, &g->srv4, &g->cli4);

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf),
			stun_type(TURN_M_CREATE_PERMISSION, STUN_C_REQUEST), tid, 0);
	stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &g->peer4);
	add_auth_lt(&b);
	finish(g, "createperm-req", &b, &g->turn_key, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf),
			stun_type(TURN_M_CREATE_PERMISSION, STUN_C_SUCCESS), tid, 0);
	finish(g, "createperm-ok", &b, &g->turn_key, STUN_MI_RFC, false, &g->srv4, &g->cli4);

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_SEND, STUN_C_INDICATION), tid, 0);
	stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &g->peer4);
	stun_build_attr(&b, TURN_A_DONT_FRAGMENT, NULL, 0);
	stun_build_attr(&b, TURN_A_DATA, media, sizeof(media) - 1);
	finish(g, "send-ind", &b, NULL, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_DATA, STUN_C_INDICATION), tid, 0);
	stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &g->peer4);
	stun_build_attr(&b, TURN_A_DATA, media, sizeof(media) - 2); /* odd length: padded */
	finish(g, "data-ind", &b, NULL, STUN_MI_RFC, false, &g->srv4, &g->cli4);

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_CHANNEL_BIND, STUN_C_REQUEST), tid,
			0);
	stun_build_u32(&b, TURN_A_CHANNEL_NUMBER, 0x40010000u); /* RFC 8656 §18.1: RFFU zero */
	stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &g->peer4);
	add_auth_lt(&b);
	finish(g, "chanbind-req", &b, &g->turn_key, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_CHANNEL_BIND, STUN_C_SUCCESS), tid,
			0);
	finish(g, "chanbind-ok", &b, &g->turn_key, STUN_MI_RFC, false, &g->srv4, &g->cli4);

	/* RFC 8656 §12.5: ChannelData over UDP need not be padded; one of each. */
	emit(g, "chandata-c2s", &g->cli4, &g->srv4, out,
	     stun_channeldata_build(out, sizeof(out), 0x4001, media, sizeof(media) - 1, false));
	emit(g, "chandata-s2c", &g->srv4, &g->cli4, out,
	     stun_channeldata_build(out, sizeof(out), 0x4001, media, 10, true));

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_REFRESH, STUN_C_REQUEST), tid, 0);
	stun_build_u32(&b, TURN_A_LIFETIME, 0);
	add_auth_lt(&b);
	finish(g, "refresh-req", &b, &g->turn_key, STUN_MI_RFC, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_REFRESH, STUN_C_SUCCESS), tid, 0);
	stun_build_u32(&b, TURN_A_LIFETIME, 0);
	finish(g, "refresh-ok", &b, &g->turn_key, STUN_MI_RFC, false, &g->srv4, &g->cli4);
}

static void gen_msice2(struct gen *g)
{
	uint8_t buf[STUN_MAX_MSG], tid[STUN_LEGACY_TID_LEN];
	struct stun_builder b;

	/* [MS-ICE2] §2.2.2.2: version 2 means the RFC FINGERPRINT; the MAC covers the
	 * length with FINGERPRINT counted and the message padded to 64 bytes. */
	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str_pad4(&b, STUN_A_USERNAME, "msRemote:msLocal");
	stun_build_u32(&b, ICE_A_PRIORITY, 0x6e7f1eff);
	stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 0x0a0b0c0d0e0f1011ull);
	stun_build_str_pad4(&b, MSICE_A_CANDIDATE_IDENTIFIER, "#1:0");
	stun_build_u32(&b, MSICE_A_IMPLEMENTATION_VERSION, 2);
	finish(g, "msice2-req", &b, &g->ice_key, STUN_MI_MSICE2, false, &g->cli4, &g->srv4);

	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_SUCCESS), tid, 0);
	stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &g->cli4);
	stun_build_u32(&b, MSICE_A_IMPLEMENTATION_VERSION, 2);
	finish(g, "msice2-ok", &b, &g->ice_key, STUN_MI_MSICE2, false, &g->srv4, &g->cli4);

	/* Without IMPLEMENTATION-VERSION a peer of that era uses the broken CRC table.
	 * The two CRCs agree unless the bad table entry is hit, so pick the PRIORITY that
	 * makes them differ: tshark must then flag exactly this FINGERPRINT as bad. */
	next_tid(g, tid);
	for (uint32_t k = 0; k < 256; k++) {
		stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_REQUEST),
				tid, 0);
		stun_build_str_pad4(&b, STUN_A_USERNAME, "msRemote:msLocal");
		stun_build_u32(&b, ICE_A_PRIORITY, 0x6e7f1e00u + k);
		stun_build_str_pad4(&b, MSICE_A_CANDIDATE_IDENTIFIER, "#2:1");
		stun_build_integrity(&b, &g->ice_key, STUN_MI_MSICE2);
		/* the CRC runs over the length that already counts FINGERPRINT */
		{
			uint16_t l = (uint16_t)(((buf[2] << 8) | buf[3]) + 8);
			buf[2] = (uint8_t)(l >> 8);
			buf[3] = (uint8_t)l;
		}
		if (b.err || stun_crc32(buf, b.len) != stun_crc32_legacy(buf, b.len))
			break;
	}
	stun_build_fingerprint(&b, true);
	{
		int len = stun_build_finish(&b);
		struct stun_msg m;
		int r = len < 0 ? len : stun_parse(&m, buf, (size_t)len, STUN_PF_LEGACY_FP);
		if (r == 0 && !(m.flags & STUN_MF_FP_LEGACY))
			r = STUN_E_FINGERPRINT;
		if (r == 0)
			r = stun_msg_check_integrity(&m, &g->ice_key, STUN_MI_MSICE2);
		if (r < 0)
			fail(g, "msice2-req-legacyfp", r);
		emit(g, "msice2-req-legacyfp", &g->cli4, &g->srv4, buf, len);
	}
}

/* The rfc3489bis-02 form of MS-ICE (no cookie, 16-byte id, 64-byte padded HMAC) and an
 * MS-TURN allocation (RFC framing, MS attribute numbers). */
static void gen_ms_legacy(struct gen *g)
{
	uint8_t buf[STUN_MAX_MSG], tid[STUN_LEGACY_TID_LEN];
	struct stun_builder b;
	uint8_t seq[MSTURN_MS_SEQ_CONN_ID_LEN + 4];

	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid,
			STUN_BF_LEGACY | STUN_BF_UNPADDED);
	stun_build_str_pad4(&b, STUN_A_USERNAME, "legacyRemoteUfrag:legacyLocalUfrag");
	stun_build_integrity(&b, &g->ice_key, STUN_MI_PAD64);
	{
		int len = stun_build_finish(&b);
		self_check(g, "msice-legacy-req", buf, len, &g->ice_key, STUN_MI_PAD64,
			   STUN_PF_UNPADDED | STUN_PF_MS_ATTRS);
		emit(g, "msice-legacy-req", &g->cli4, &g->srv4, buf, len);
	}
	stun_build_init(&b, buf, sizeof(buf), stun_type(STUN_M_BINDING, STUN_C_SUCCESS), tid,
			STUN_BF_LEGACY | STUN_BF_UNPADDED);
	stun_build_addr(&b, STUN_A_MAPPED_ADDRESS, &g->cli4);
	stun_build_addr(&b, MSTURN_A_XOR_MAPPED_ADDRESS, &g->cli4);
	stun_build_integrity(&b, &g->ice_key, STUN_MI_PAD64);
	{
		int len = stun_build_finish(&b);
		self_check(g, "msice-legacy-ok", buf, len, &g->ice_key, STUN_MI_PAD64,
			   STUN_PF_UNPADDED | STUN_PF_MS_ATTRS);
		emit(g, "msice-legacy-ok", &g->srv4, &g->cli4, buf, len);
	}

	/* [MS-TURN] §3.1.4.2: the first Allocate carries MAGIC-COOKIE and MS-VERSION */
	next_tid(g, tid);
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_REQUEST), tid, 0);
	stun_build_u32(&b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
	stun_build_u32(&b, MSTURN_A_MS_VERSION, 2);
	memset(seq, 0x5a, MSTURN_MS_SEQ_CONN_ID_LEN);
	seq[MSTURN_MS_SEQ_CONN_ID_LEN] = 0;
	seq[MSTURN_MS_SEQ_CONN_ID_LEN + 1] = 0;
	seq[MSTURN_MS_SEQ_CONN_ID_LEN + 2] = 0;
	seq[MSTURN_MS_SEQ_CONN_ID_LEN + 3] = 1;
	stun_build_attr(&b, MSTURN_A_MS_SEQUENCE_NUMBER, seq, sizeof(seq));
	{
		int len = stun_build_finish(&b);
		self_check(g, "msturn-allocate-req", buf, len, NULL, STUN_MI_RFC,
			   STUN_PF_UNPADDED | STUN_PF_MS_ATTRS);
		emit(g, "msturn-allocate-req", &g->cli4, &g->srv4, buf, len);
	}
	stun_build_init(&b, buf, sizeof(buf), stun_type(TURN_M_ALLOCATE, STUN_C_SUCCESS), tid, 0);
	stun_build_addr(&b, STUN_A_MAPPED_ADDRESS, &g->relay4);
	stun_build_addr(&b, MSTURN_A_XOR_MAPPED_ADDRESS, &g->cli4);
	stun_build_u32(&b, TURN_A_LIFETIME, 480);
	stun_build_u32(&b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
	stun_build_u32(&b, MSTURN_A_MS_VERSION, 2);
	{
		int len = stun_build_finish(&b);
		self_check(g, "msturn-allocate-ok", buf, len, NULL, STUN_MI_RFC,
			   STUN_PF_UNPADDED | STUN_PF_MS_ATTRS);
		emit(g, "msturn-allocate-ok", &g->srv4, &g->cli4, buf, len);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: icegw-stungen [options] OUT.pcap\n"
		"Write one example of each STUN/TURN/MS-ICE2 message icegw builds as UDP on port 3478.\n\n"
		"  -l, --list FILE     write the expected decode: frame, type, channel, attribute types,\n"
		"                      IPv4 addresses, IPv6 addresses, ports (tab-separated)\n"
		"  -r, --raw DIR       also write each UDP payload to DIR/gen-NN-NAME (fuzz seeds)\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"list", required_argument, NULL, 'l'},
		{"raw", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct gen g;
	char err[PCAP_ERRBUF_SIZE + 64];
	const char *list = NULL;
	int c;

	memset(&g, 0, sizeof(g));
	while ((c = getopt_long(argc, argv, "l:r:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			list = optarg;
			break;
		case 'r':
			g.rawdir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("icegw-stungen %s\n", ICEGW_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (g.rawdir && mkdir(g.rawdir, 0777) < 0 && errno != EEXIST) {
		fprintf(stderr, "icegw-stungen: %s: %s\n", g.rawdir, strerror(errno));
		return 1;
	}
	if (list && !(g.list = fopen(list, "w"))) {
		fprintf(stderr, "icegw-stungen: %s: %s\n", list, strerror(errno));
		return 1;
	}
	if (pcap_udp_create(&g.w, argv[optind], err, sizeof(err)) < 0) {
		fprintf(stderr, "icegw-stungen: %s\n", err);
		return 1;
	}

	stun_key_init(&g.ice_key, ICE_PWD, strlen(ICE_PWD));
	stun_key_init_long_term(&g.turn_key, TURN_USER, TURN_REALM, TURN_PASS);
	/* RFC 5737 / RFC 3849 documentation addresses */
	ice_addr_parse(&g.cli4, "192.0.2.10:50000");
	ice_addr_parse(&g.srv4, "198.51.100.1:3478");
	ice_addr_parse(&g.cli6, "[2001:db8::10]:50002");
	ice_addr_parse(&g.srv6, "[2001:db8::1]:3478");
	ice_addr_parse(&g.peer4, "203.0.113.7:40000");
	ice_addr_parse(&g.relay4, "198.51.100.1:49152");
	ice_addr_parse(&g.alt4, "198.51.100.2:3478");

	gen_ice(&g);
	gen_turn(&g);
	gen_msice2(&g);
	gen_ms_legacy(&g);

	pcap_udp_finish(&g.w);
	if (g.list && fclose(g.list) != 0)
		g.failed = 1;
	if (g.failed)
		return 1;
	fprintf(stderr, "icegw-stungen: %u frames written to %s\n", g.frame, argv[optind]);
	return 0;
}
