/* libFuzzer target for the STUN codec: every parse flag set, formatting, every getter,
 * integrity in every mode, and the ChannelData / RFC 4571 / MS-TCP framings. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort on a broken invariant so the fuzzer reports it even without a sanitizer hit. */
#define CHECK(c)                                                                               \
	do {                                                                                   \
		if (!(c))                                                                      \
			abort();                                                               \
	} while (0)

static struct stun_key key;
static int key_ready;

/* Read every attribute through the typed getters; results are judged for consistency,
 * not value, since the input is arbitrary. */
static void read_attrs(const struct stun_msg *m)
{
	for (unsigned i = 0; i < m->nattr; i++) {
		const struct stun_attr *a = &m->attr[i];
		struct ice_addr addr;
		const uint8_t *p;
		uint16_t len, rlen;
		uint32_t v32;
		uint64_t v64;
		const char *reason;
		int code;

		CHECK((size_t)a->off + a->len <= m->len);
		CHECK(stun_msg_find(m, a->type) != NULL);
		if (stun_msg_get_u32(m, a->type, &v32) == 0)
			CHECK(stun_msg_find(m, a->type)->len == 4);
		if (stun_msg_get_u64(m, a->type, &v64) == 0)
			CHECK(stun_msg_find(m, a->type)->len == 8);
		CHECK(stun_msg_get_bytes(m, a->type, &p, &len) == 0);
		CHECK(p >= m->buf && p + len <= m->buf + m->len);
		if (stun_msg_get_addr(m, a->type, &addr) == 0) {
			char txt[ICE_ADDR_STRLEN];
			CHECK(addr.family == ICE_AF_INET || addr.family == ICE_AF_INET6);
			ice_addr_fmt(&addr, txt, sizeof(txt));
		}
		if (a->type == STUN_A_ERROR_CODE &&
		    stun_msg_get_error(m, &code, &reason, &rlen) == 0) {
			CHECK(code >= 300 && code <= 699);
			CHECK((const uint8_t *)reason + rlen <= m->buf + m->len);
		}
		(void)stun_attr_name(a->type);
		(void)stun_attr_known(a->type, STUN_PF_MS_ATTRS);
	}
	(void)stun_method_name(m->method);
	(void)stun_class_name(m->cls);
}

/* Copy every attribute into a fresh message: the builder must accept what the parser
 * accepted, and parsing the copy must give back the same attributes. */
static void rebuild(const struct stun_msg *m, unsigned pflags)
{
	uint8_t out[STUN_MAX_MSG * 2];
	struct stun_builder b;
	struct stun_msg c;
	bool cookie = m->flags & STUN_MF_COOKIE;
	unsigned bflags = (cookie ? 0 : STUN_BF_LEGACY) |
			  ((pflags & STUN_PF_UNPADDED) ? STUN_BF_UNPADDED : 0);
	int len, r;

	if (m->len > STUN_MAX_MSG)
		return;
	stun_build_init(&b, out, sizeof(out), m->type, stun_msg_tid(m), bflags);
	for (unsigned i = 0; i < m->nattr; i++)
		stun_build_attr(&b, m->attr[i].type, m->buf + m->attr[i].off, m->attr[i].len);
	len = stun_build_finish(&b);
	CHECK(len == m->len);
	/* FINGERPRINT was copied, not recomputed: only its bytes may differ (padding zeroed) */
	r = stun_parse(&c, out, (size_t)len, pflags & ~(unsigned)STUN_PF_LEGACY_FP);
	if (r == STUN_E_FINGERPRINT)
		return;
	CHECK(r == 0 || r == STUN_E_UNKNOWN_REQUIRED);
	CHECK(c.nattr == m->nattr && c.type == m->type);
	for (unsigned i = 0; i < c.nattr; i++) {
		CHECK(c.attr[i].type == m->attr[i].type && c.attr[i].len == m->attr[i].len &&
		      c.attr[i].off == m->attr[i].off);
		CHECK(memcmp(out + c.attr[i].off, m->buf + m->attr[i].off, c.attr[i].len) == 0);
	}
}

static void try_stun(const uint8_t *data, size_t size)
{
	static const enum stun_mi_mode modes[] = {STUN_MI_RFC, STUN_MI_PAD64, STUN_MI_MSICE2};
	char text[4096];

	for (unsigned flags = 0; flags < 8; flags++) {
		struct stun_msg m;
		int r = stun_parse(&m, data, size, flags);

		CHECK(r <= 0 && r >= STUN_E_ERR_MIN);
		(void)stun_strerror(r);
		if (r < 0 && r != STUN_E_UNKNOWN_REQUIRED)
			continue;
		CHECK(m.len == size);
		/* the cheap classifier must agree with the full parser */
		CHECK(stun_classify(data, size) ==
		      ((m.flags & STUN_MF_COOKIE) ? STUN_KIND_RFC : STUN_KIND_LEGACY));
		CHECK(m.nattr <= STUN_MAX_ATTRS && m.nunknown <= STUN_MAX_UNKNOWN);
		int n = stun_msg_format(&m, text, sizeof(text));
		CHECK(n >= 0 && (size_t)n < sizeof(text) && text[n] == 0);
		/* a tiny buffer must truncate, never overrun */
		char tiny[8];
		n = stun_msg_format(&m, tiny, sizeof(tiny));
		CHECK(n >= 0 && (size_t)n < sizeof(tiny));
		read_attrs(&m);
		for (unsigned k = 0; k < 3; k++) {
			int ir = stun_msg_check_integrity(&m, &key, modes[k]);
			CHECK(ir == 0 || ir == STUN_E_NO_INTEGRITY || ir == STUN_E_INTEGRITY);
			CHECK((ir == STUN_E_NO_INTEGRITY) == (m.mi_off == 0));
		}
		int sr = stun_msg_check_integrity_sha256(&m, "fuzz", 4);
		CHECK(sr == 0 || sr == STUN_E_NO_INTEGRITY || sr == STUN_E_INTEGRITY);
		rebuild(&m, flags);
	}
}

static void try_framing(const uint8_t *data, size_t size)
{
	uint16_t ch, dlen, len;
	const uint8_t *p;
	uint8_t type;
	size_t need;

	if (stun_channeldata_parse(data, size, &ch, &p, &dlen) == 0)
		CHECK(ch >= 0x4000 && ch <= 0x4fff && p + dlen <= data + size);

	/* RFC 4571: walk a stream of frames as a TCP reader would */
	for (size_t off = 0; (need = stun_rfc4571_need(data + off, size - off)) != 0;) {
		if (need > size - off)
			break;
		struct stun_msg m;
		(void)stun_parse(&m, data + off + 2, need - 2, STUN_PF_UNPADDED);
		off += need;
	}

	for (size_t off = 0; off < size;) {
		int r = msturn_tcp_deframe(data + off, size - off, &type, &p, &len);
		if (r <= 0)
			break;
		CHECK((size_t)r == (size_t)len + 4 && p + len <= data + size);
		CHECK(type == MSTURN_FRAME_CONTROL || type == MSTURN_FRAME_DATA);
		off += (size_t)r;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!key_ready) {
		stun_key_init(&key, "fuzz-password", 13);
		key_ready = 1;
	}
	(void)stun_classify(data, size);
	try_stun(data, size);
	try_framing(data, size);
	return 0;
}
