/* STUN message parsing, attribute access and building for every dialect icegw speaks.
 * Integrity and CRC live in stun_integrity.c; this file owns framing and attributes. */
#include "stun.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static const char *const err_names[] = {
	[0] = "ok",
	[1] = "truncated",
	[2] = "not a STUN message",
	[3] = "bad length",
	[4] = "bad padding",
	[5] = "attribute after MESSAGE-INTEGRITY",
	[6] = "attribute after FINGERPRINT",
	[7] = "FINGERPRINT mismatch",
	[8] = "unknown comprehension-required attribute",
	[9] = "too many attributes",
	[10] = "bad attribute value",
	[11] = "MESSAGE-INTEGRITY missing",
	[12] = "MESSAGE-INTEGRITY mismatch",
	[13] = "no space in buffer",
	[14] = "attribute missing",
	[15] = "bad address family",
	[16] = "unsupported",
};

const char *stun_strerror(int err)
{
	if (err > 0 || err < STUN_E_ERR_MIN)
		return "unknown error";
	return err_names[-err];
}

/* ------------------------------------------------------------------ names */

struct name_entry {
	uint16_t v;
	const char *name;
};

static const struct name_entry attr_names[] = {
	{STUN_A_MAPPED_ADDRESS, "MAPPED-ADDRESS"},
	{STUN_A_USERNAME, "USERNAME"},
	{STUN_A_MESSAGE_INTEGRITY, "MESSAGE-INTEGRITY"},
	{STUN_A_ERROR_CODE, "ERROR-CODE"},
	{STUN_A_UNKNOWN_ATTRIBUTES, "UNKNOWN-ATTRIBUTES"},
	{TURN_A_CHANNEL_NUMBER, "CHANNEL-NUMBER"},
	{TURN_A_LIFETIME, "LIFETIME"},
	{MSTURN_A_ALTERNATE_SERVER, "MS-ALTERNATE-SERVER"},
	{MSTURN_A_MAGIC_COOKIE, "MAGIC-COOKIE"},
	{MSTURN_A_BANDWIDTH, "BANDWIDTH"},
	{MSTURN_A_DESTINATION_ADDRESS, "DESTINATION-ADDRESS"},
	{TURN_A_XOR_PEER_ADDRESS, "XOR-PEER-ADDRESS"},
	{TURN_A_DATA, "DATA"},
	{STUN_A_REALM, "REALM"},
	{STUN_A_NONCE, "NONCE"},
	{TURN_A_XOR_RELAYED_ADDRESS, "XOR-RELAYED-ADDRESS"},
	{TURN_A_REQUESTED_ADDRESS_FAMILY, "REQUESTED-ADDRESS-FAMILY"},
	{TURN_A_EVEN_PORT, "EVEN-PORT"},
	{TURN_A_REQUESTED_TRANSPORT, "REQUESTED-TRANSPORT"},
	{TURN_A_DONT_FRAGMENT, "DONT-FRAGMENT"},
	{STUN_A_MESSAGE_INTEGRITY_SHA256, "MESSAGE-INTEGRITY-SHA256"},
	{STUN_A_PASSWORD_ALGORITHM, "PASSWORD-ALGORITHM"},
	{STUN_A_USERHASH, "USERHASH"},
	{STUN_A_XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS"},
	{TURN_A_RESERVATION_TOKEN, "RESERVATION-TOKEN"},
	{ICE_A_PRIORITY, "PRIORITY"},
	{ICE_A_USE_CANDIDATE, "USE-CANDIDATE"},
	{TURN_A_ADDITIONAL_ADDRESS_FAMILY, "ADDITIONAL-ADDRESS-FAMILY"},
	{TURN_A_ADDRESS_ERROR_CODE, "ADDRESS-ERROR-CODE"},
	{TURN_A_ICMP, "ICMP"},
	{MSTURN_A_MS_VERSION, "MS-VERSION"},
	{MSTURN_A_XOR_MAPPED_ADDRESS, "MS-XOR-MAPPED-ADDRESS"},
	{STUN_A_SOFTWARE, "SOFTWARE"},
	{STUN_A_ALTERNATE_SERVER, "ALTERNATE-SERVER"},
	{STUN_A_FINGERPRINT, "FINGERPRINT"},
	{ICE_A_ICE_CONTROLLED, "ICE-CONTROLLED"},
	{ICE_A_ICE_CONTROLLING, "ICE-CONTROLLING"},
	{STUN_A_RESPONSE_ORIGIN, "RESPONSE-ORIGIN"},
	{STUN_A_OTHER_ADDRESS, "OTHER-ADDRESS"},
	{MSTURN_A_MS_SEQUENCE_NUMBER, "MS-SEQUENCE-NUMBER"},
	{MSICE_A_CANDIDATE_IDENTIFIER, "CANDIDATE-IDENTIFIER"},
	{MSTURN_A_MS_SERVICE_QUALITY, "MS-SERVICE-QUALITY"},
	{MSICE_A_IMPLEMENTATION_VERSION, "IMPLEMENTATION-VERSION"},
};

const char *stun_attr_name(uint16_t type)
{
	for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
		if (attr_names[i].v == type)
			return attr_names[i].name;
	return NULL;
}

const char *stun_method_name(uint16_t method)
{
	switch (method) {
	case STUN_M_BINDING: return "Binding";
	case TURN_M_ALLOCATE: return "Allocate";
	case TURN_M_REFRESH: return "Refresh";
	case TURN_M_SEND: return "Send";
	case TURN_M_DATA: return "Data";
	case TURN_M_CREATE_PERMISSION: return "CreatePermission";
	case TURN_M_CHANNEL_BIND: return "ChannelBind";
	default: return "Unknown-method";
	}
}

const char *stun_class_name(uint16_t cls)
{
	switch (cls) {
	case STUN_C_REQUEST: return "Request";
	case STUN_C_INDICATION: return "Indication";
	case STUN_C_SUCCESS: return "Success Response";
	default: return "Error Response";
	}
}

/* The RFC attributes in the comprehension-required range that we understand. */
static bool rfc_required_known(uint16_t t)
{
	switch (t) {
	case STUN_A_MAPPED_ADDRESS:
	case STUN_A_USERNAME:
	case STUN_A_MESSAGE_INTEGRITY:
	case STUN_A_ERROR_CODE:
	case STUN_A_UNKNOWN_ATTRIBUTES:
	case TURN_A_CHANNEL_NUMBER:
	case TURN_A_LIFETIME:
	case TURN_A_XOR_PEER_ADDRESS:
	case TURN_A_DATA:
	case STUN_A_REALM:
	case STUN_A_NONCE:
	case TURN_A_XOR_RELAYED_ADDRESS:
	case TURN_A_REQUESTED_ADDRESS_FAMILY:
	case TURN_A_EVEN_PORT:
	case TURN_A_REQUESTED_TRANSPORT:
	case TURN_A_DONT_FRAGMENT:
	case STUN_A_MESSAGE_INTEGRITY_SHA256:
	case STUN_A_PASSWORD_ALGORITHM:
	case STUN_A_USERHASH:
	case STUN_A_XOR_MAPPED_ADDRESS:
	case TURN_A_RESERVATION_TOKEN:
	case ICE_A_PRIORITY:
	case ICE_A_USE_CANDIDATE:
		return true;
	default:
		return false;
	}
}

bool stun_attr_known(uint16_t type, unsigned flags)
{
	if (rfc_required_known(type))
		return true;
	if (flags & STUN_PF_MS_ATTRS) {
		switch (type) {
		case MSTURN_A_ALTERNATE_SERVER:
		case MSTURN_A_MAGIC_COOKIE:
		case MSTURN_A_BANDWIDTH:
		case MSTURN_A_DESTINATION_ADDRESS:
			return true;
		default:
			break;
		}
	}
	return type >= 0x8000; /* comprehension-optional: always "known enough" */
}

bool stun_attr_is_xor_addr(uint16_t type)
{
	return type == STUN_A_XOR_MAPPED_ADDRESS || type == TURN_A_XOR_PEER_ADDRESS ||
	       type == TURN_A_XOR_RELAYED_ADDRESS || type == MSTURN_A_XOR_MAPPED_ADDRESS;
}

/* ------------------------------------------------------------------ parsing */

int stun_parse(struct stun_msg *m, const uint8_t *buf, size_t len, unsigned flags)
{
	size_t mlen, pos;
	bool cookie, padded;

	m->buf = buf;
	m->len = 0;
	m->nattr = 0;
	m->nunknown = 0;
	m->mi_off = m->mi256_off = m->fp_off = 0;
	m->flags = 0;

	if (len < STUN_HDR_LEN)
		return STUN_E_TRUNCATED;
	if (buf[0] & 0xc0)
		return STUN_E_NOT_STUN;
	mlen = rd16(buf + 2);
	if (mlen + STUN_HDR_LEN > len)
		return STUN_E_TRUNCATED;
	if (mlen + STUN_HDR_LEN < len)
		return STUN_E_BAD_LENGTH;
	/* msg->len and attribute offsets are 16-bit: a 65535-byte body would wrap them */
	if (mlen + STUN_HDR_LEN > 0xffff)
		return STUN_E_BAD_LENGTH;
	cookie = rd32(buf + 4) == STUN_MAGIC_COOKIE;
	/* RFC 8489 §5: with the cookie the length is always a multiple of 4. MS-ICE's
	 * rfc3489bis-02 messages (libnice OC2007) carry unpadded attributes. */
	padded = !(flags & STUN_PF_UNPADDED);
	if (cookie && padded && (mlen & 3))
		return STUN_E_BAD_LENGTH;

	m->len = (uint16_t)(mlen + STUN_HDR_LEN);
	m->type = rd16(buf);
	m->method = stun_type_method(m->type);
	m->cls = stun_type_class(m->type);
	m->flags = cookie ? STUN_MF_COOKIE : 0;

	pos = STUN_HDR_LEN;
	while (pos < m->len) {
		uint16_t t, alen;
		size_t step;

		if (pos + 4 > m->len)
			return STUN_E_BAD_PADDING;
		t = rd16(buf + pos);
		alen = rd16(buf + pos + 2);
		step = padded ? (size_t)((alen + 3u) & ~3u) : alen;
		if (pos + 4 + alen > m->len)
			return STUN_E_TRUNCATED;
		if (pos + 4 + step > m->len)
			return STUN_E_BAD_PADDING;
		/* RFC 8489 §14.5 / §14.7: only FINGERPRINT may follow MESSAGE-INTEGRITY, nothing
		 * follows FINGERPRINT. MESSAGE-INTEGRITY-SHA256 may follow MESSAGE-INTEGRITY. */
		if (m->fp_off)
			return STUN_E_AFTER_FINGERPRINT;
		if (m->mi_off || m->mi256_off) {
			bool ok = t == STUN_A_FINGERPRINT ||
				  (t == STUN_A_MESSAGE_INTEGRITY_SHA256 && m->mi_off && !m->mi256_off);
			if (!ok)
				return STUN_E_AFTER_INTEGRITY;
		}
		if (m->nattr >= STUN_MAX_ATTRS)
			return STUN_E_TOO_MANY_ATTRS;
		m->attr[m->nattr].type = t;
		m->attr[m->nattr].len = alen;
		m->attr[m->nattr].off = (uint16_t)(pos + 4);
		m->nattr++;

		switch (t) {
		case STUN_A_MESSAGE_INTEGRITY:
			if (alen != STUN_MI_LEN)
				return STUN_E_BAD_ATTR;
			m->mi_off = (uint16_t)pos;
			break;
		case STUN_A_MESSAGE_INTEGRITY_SHA256:
			if (alen < 16 || alen > 32 || (alen & 3))
				return STUN_E_BAD_ATTR;
			m->mi256_off = (uint16_t)pos;
			break;
		case STUN_A_FINGERPRINT:
			if (alen != 4)
				return STUN_E_BAD_ATTR;
			m->fp_off = (uint16_t)pos;
			break;
		default:
			if (!stun_attr_known(t, flags) && m->nunknown < STUN_MAX_UNKNOWN)
				m->unknown[m->nunknown++] = t;
			break;
		}
		pos += 4 + step;
	}

	if (m->fp_off) {
		/* RFC 8489 §14.7: CRC over the message up to FINGERPRINT, length as sent
		 * (it already counts FINGERPRINT, which is last). */
		uint32_t want = rd32(buf + m->fp_off + 4);
		if ((stun_crc32(buf, m->fp_off) ^ STUN_FP_XOR) == want) {
			m->flags |= STUN_MF_FP_OK;
		} else if ((flags & STUN_PF_LEGACY_FP) &&
			   !stun_msg_find(m, MSICE_A_IMPLEMENTATION_VERSION) &&
			   (stun_crc32_legacy(buf, m->fp_off) ^ STUN_FP_XOR) == want) {
			m->flags |= STUN_MF_FP_OK | STUN_MF_FP_LEGACY;
		} else {
			return STUN_E_FINGERPRINT;
		}
	}
	if (m->nunknown)
		return STUN_E_UNKNOWN_REQUIRED;
	return 0;
}

const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type)
{
	for (unsigned i = 0; i < m->nattr; i++)
		if (m->attr[i].type == type)
			return &m->attr[i];
	return NULL;
}

int stun_msg_get_u32(const struct stun_msg *m, uint16_t type, uint32_t *v)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	if (!a)
		return STUN_E_MISSING;
	if (a->len != 4)
		return STUN_E_BAD_ATTR;
	*v = rd32(m->buf + a->off);
	return 0;
}

int stun_msg_get_u64(const struct stun_msg *m, uint16_t type, uint64_t *v)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	if (!a)
		return STUN_E_MISSING;
	if (a->len != 8)
		return STUN_E_BAD_ATTR;
	*v = ((uint64_t)rd32(m->buf + a->off) << 32) | rd32(m->buf + a->off + 4);
	return 0;
}

int stun_msg_get_bytes(const struct stun_msg *m, uint16_t type, const uint8_t **p, uint16_t *len)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	if (!a)
		return STUN_E_MISSING;
	*p = m->buf + a->off;
	*len = a->len;
	return 0;
}

int stun_msg_get_addr(const struct stun_msg *m, uint16_t type, struct ice_addr *addr)
{
	const struct stun_attr *a = stun_msg_find(m, type);
	const uint8_t *v;
	bool x = stun_attr_is_xor_addr(type);

	if (!a)
		return STUN_E_MISSING;
	v = m->buf + a->off;
	memset(addr, 0, sizeof(*addr));
	if (a->len < 8)
		return STUN_E_BAD_ATTR;
	addr->port = rd16(v + 2);
	if (x)
		addr->port ^= rd16(m->buf + 4);
	switch (v[1]) {
	case 0x01: /* RFC 8489 §14.1 */
		if (a->len != 8)
			return STUN_E_BAD_ATTR;
		addr->family = ICE_AF_INET;
		memcpy(addr->ip, v + 4, 4);
		if (x)
			for (int i = 0; i < 4; i++)
				addr->ip[i] ^= m->buf[4 + i];
		return 0;
	case 0x02:
		if (a->len != 20)
			return STUN_E_BAD_ATTR;
		addr->family = ICE_AF_INET6;
		memcpy(addr->ip, v + 4, 16);
		if (x)
			for (int i = 0; i < 16; i++)
				addr->ip[i] ^= m->buf[4 + i];
		return 0;
	default:
		return STUN_E_BAD_FAMILY;
	}
}

int stun_msg_get_error(const struct stun_msg *m, int *code, const char **reason, uint16_t *rlen)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_A_ERROR_CODE);
	const uint8_t *v;

	if (!a)
		return STUN_E_MISSING;
	if (a->len < 4)
		return STUN_E_BAD_ATTR;
	v = m->buf + a->off;
	/* RFC 8489 §14.8: class in 3 bits (3-6), number 0-99 */
	if ((v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
		return STUN_E_BAD_ATTR;
	*code = (v[2] & 7) * 100 + v[3];
	if (reason)
		*reason = (const char *)v + 4;
	if (rlen)
		*rlen = (uint16_t)(a->len - 4);
	return 0;
}

/* ------------------------------------------------------------------ building */

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
		     const uint8_t *tid, unsigned flags)
{
	b->buf = buf;
	b->cap = (uint16_t)(cap > 0xffff ? 0xffff : cap);
	b->len = 0;
	b->flags = (uint8_t)flags;
	b->pad = 0;
	b->err = 0;
	if (cap < STUN_HDR_LEN) {
		b->err = STUN_E_NOSPACE;
		return;
	}
	wr16(buf, type & 0x3fff);
	wr16(buf + 2, 0);
	if (flags & STUN_BF_LEGACY) {
		memcpy(buf + 4, tid, STUN_LEGACY_TID_LEN);
	} else {
		wr32(buf + 4, STUN_MAGIC_COOKIE);
		memcpy(buf + 8, tid, STUN_TID_LEN);
	}
	b->len = STUN_HDR_LEN;
}

static inline void set_len(struct stun_builder *b, size_t total)
{
	wr16(b->buf + 2, (uint16_t)(total - STUN_HDR_LEN));
}

/* Reserve an attribute and return a pointer to its value. */
static uint8_t *attr_reserve(struct stun_builder *b, uint16_t type, size_t len)
{
	size_t step = (b->flags & STUN_BF_UNPADDED) ? len : ((len + 3) & ~(size_t)3);
	uint8_t *p;

	if (b->err)
		return NULL;
	if (len > 0xffff || (size_t)b->len + 4 + step > b->cap) {
		b->err = STUN_E_NOSPACE;
		return NULL;
	}
	p = b->buf + b->len;
	wr16(p, type);
	wr16(p + 2, (uint16_t)len);
	if (step > len)
		memset(p + 4 + len, b->pad, step - len);
	b->len = (uint16_t)(b->len + 4 + step);
	set_len(b, b->len);
	return p + 4;
}

int stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len)
{
	uint8_t *p = attr_reserve(b, type, len);

	if (!p)
		return b->err;
	if (len)
		memcpy(p, val, len);
	return 0;
}

int stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t *p = attr_reserve(b, type, 4);

	if (!p)
		return b->err;
	wr32(p, v);
	return 0;
}

int stun_build_u64(struct stun_builder *b, uint16_t type, uint64_t v)
{
	uint8_t *p = attr_reserve(b, type, 8);

	if (!p)
		return b->err;
	wr32(p, (uint32_t)(v >> 32));
	wr32(p + 4, (uint32_t)v);
	return 0;
}

int stun_build_str(struct stun_builder *b, uint16_t type, const char *s)
{
	return stun_build_attr(b, type, s, strlen(s));
}

int stun_build_str_pad4(struct stun_builder *b, uint16_t type, const char *s)
{
	size_t n = strlen(s), padded = (n + 3) & ~(size_t)3;
	uint8_t *p = attr_reserve(b, type, padded);

	if (!p)
		return b->err;
	memcpy(p, s, n);
	memset(p + n, 0, padded - n);
	return 0;
}

int stun_build_addr(struct stun_builder *b, uint16_t type, const struct ice_addr *addr)
{
	size_t alen = addr->family == ICE_AF_INET6 ? 16 : 4;
	uint8_t *p;

	if (addr->family != ICE_AF_INET && addr->family != ICE_AF_INET6) {
		if (!b->err)
			b->err = STUN_E_BAD_FAMILY;
		return b->err;
	}
	p = attr_reserve(b, type, 4 + alen);
	if (!p)
		return b->err;
	p[0] = 0;
	p[1] = addr->family == ICE_AF_INET6 ? 0x02 : 0x01;
	wr16(p + 2, addr->port);
	memcpy(p + 4, addr->ip, alen);
	if (stun_attr_is_xor_addr(type)) {
		p[2] ^= b->buf[4];
		p[3] ^= b->buf[5];
		for (size_t i = 0; i < alen; i++)
			p[4 + i] ^= b->buf[4 + i];
	}
	return 0;
}

int stun_build_error(struct stun_builder *b, int code, const char *reason)
{
	size_t rl = reason ? strlen(reason) : 0;
	uint8_t *p;

	if (code < 300 || code > 699) {
		if (!b->err)
			b->err = STUN_E_BAD_ATTR;
		return b->err;
	}
	p = attr_reserve(b, STUN_A_ERROR_CODE, 4 + rl);
	if (!p)
		return b->err;
	p[0] = p[1] = 0;
	p[2] = (uint8_t)(code / 100);
	p[3] = (uint8_t)(code % 100);
	if (rl)
		memcpy(p + 4, reason, rl);
	return 0;
}

int stun_build_unknown(struct stun_builder *b, const uint16_t *types, unsigned n)
{
	uint8_t *p = attr_reserve(b, STUN_A_UNKNOWN_ATTRIBUTES, 2u * n);

	if (!p)
		return b->err;
	for (unsigned i = 0; i < n; i++)
		wr16(p + 2 * i, types[i]);
	return 0;
}

static const uint8_t zero64[64];

int stun_build_integrity(struct stun_builder *b, const struct stun_key *key, enum stun_mi_mode mode)
{
	size_t start = b->len, total;
	uint8_t *p;
	uint8_t hdr[STUN_HDR_LEN];

	if (b->err)
		return b->err;
	p = attr_reserve(b, STUN_A_MESSAGE_INTEGRITY, STUN_MI_LEN);
	if (!p)
		return b->err;
	/* The length the HMAC sees: up to and including MESSAGE-INTEGRITY, and for
	 * MS-ICE2 also the FINGERPRINT that will follow. */
	total = start + 4 + STUN_MI_LEN + (mode == STUN_MI_MSICE2 ? 8 : 0);
	memcpy(hdr, b->buf, STUN_HDR_LEN);
	wr16(hdr + 2, (uint16_t)(total - STUN_HDR_LEN));
	if (mode == STUN_MI_RFC) {
		stun_hmac_sha1(key, hdr, STUN_HDR_LEN, b->buf + STUN_HDR_LEN, start - STUN_HDR_LEN,
			       NULL, 0, p);
	} else {
		size_t pad = (64 - start % 64) % 64;
		stun_hmac_sha1(key, hdr, STUN_HDR_LEN, b->buf + STUN_HDR_LEN, start - STUN_HDR_LEN,
			       zero64, pad, p);
	}
	return 0;
}

int stun_build_fingerprint(struct stun_builder *b, bool legacy)
{
	size_t start = b->len;
	uint8_t *p;
	uint32_t crc;

	p = attr_reserve(b, STUN_A_FINGERPRINT, 4);
	if (!p)
		return b->err;
	crc = legacy ? stun_crc32_legacy(b->buf, start) : stun_crc32(b->buf, start);
	wr32(p, crc ^ STUN_FP_XOR);
	return 0;
}

int stun_build_finish(struct stun_builder *b)
{
	if (b->err)
		return b->err;
	return b->len;
}

/* ------------------------------------------------------------------ framing */

int stun_channeldata_parse(const uint8_t *p, size_t len, uint16_t *channel, const uint8_t **data,
			   uint16_t *dlen)
{
	uint16_t ch, l;

	if (len < 4)
		return STUN_E_TRUNCATED;
	ch = rd16(p);
	/* RFC 8656 §12: channels 0x4000-0x4FFF */
	if (ch < 0x4000 || ch > 0x4fff)
		return STUN_E_NOT_STUN;
	l = rd16(p + 2);
	if ((size_t)l + 4 > len)
		return STUN_E_TRUNCATED;
	*channel = ch;
	*data = p + 4;
	*dlen = l;
	return 0;
}

int stun_channeldata_build(uint8_t *out, size_t cap, uint16_t channel, const void *data,
			   size_t dlen, bool pad4)
{
	size_t total = 4 + dlen, padded = pad4 ? ((total + 3) & ~(size_t)3) : total;

	if (channel < 0x4000 || channel > 0x4fff || dlen > 0xffff)
		return STUN_E_BAD_ATTR;
	if (padded > cap)
		return STUN_E_NOSPACE;
	wr16(out, channel);
	wr16(out + 2, (uint16_t)dlen);
	memmove(out + 4, data, dlen);
	if (padded > total)
		memset(out + total, 0, padded - total);
	return (int)padded;
}

int stun_rfc4571_frame(uint8_t *out, size_t cap, const void *msg, size_t len)
{
	if (len > 0xffff)
		return STUN_E_BAD_LENGTH;
	if (len + 2 > cap)
		return STUN_E_NOSPACE;
	wr16(out, (uint16_t)len);
	memmove(out + 2, msg, len);
	return (int)(len + 2);
}

size_t stun_rfc4571_need(const uint8_t *p, size_t avail)
{
	if (avail < 2)
		return 0;
	return 2 + (size_t)rd16(p);
}

int msturn_tcp_frame(uint8_t *out, size_t cap, uint8_t type, const void *msg, size_t len)
{
	if (type != MSTURN_FRAME_CONTROL && type != MSTURN_FRAME_DATA)
		return STUN_E_BAD_ATTR;
	if (len > 0xffff)
		return STUN_E_BAD_LENGTH;
	if (len + 4 > cap)
		return STUN_E_NOSPACE;
	out[0] = type;
	out[1] = 0;
	wr16(out + 2, (uint16_t)len);
	memmove(out + 4, msg, len);
	return (int)(len + 4);
}

int msturn_tcp_deframe(const uint8_t *p, size_t avail, uint8_t *type, const uint8_t **msg,
		       uint16_t *len)
{
	uint16_t l;

	if (avail < 4)
		return STUN_E_TRUNCATED;
	if ((p[0] != MSTURN_FRAME_CONTROL && p[0] != MSTURN_FRAME_DATA) || p[1] != 0)
		return STUN_E_NOT_STUN;
	l = rd16(p + 2);
	if ((size_t)l + 4 > avail)
		return STUN_E_TRUNCATED;
	*type = p[0];
	*msg = p + 4;
	*len = l;
	return (int)(l + 4);
}

/* ------------------------------------------------------------------ formatting */

static size_t fmt_printable(char *out, size_t cap, const uint8_t *v, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		if (v[i] >= 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\')
			out[o++] = (char)v[i];
		else if (v[i] == 0 && i + 1 == n)
			break;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", v[i]);
	}
	if (o < cap)
		out[o] = 0;
	return o;
}

#define APPEND(...)                                                                            \
	do {                                                                                   \
		int n_ = snprintf(out + o, o < cap ? cap - o : 0, __VA_ARGS__);               \
		if (n_ > 0)                                                                    \
			o += (size_t)n_;                                                       \
	} while (0)

int stun_msg_format(const struct stun_msg *m, char *out, size_t cap)
{
	size_t o = 0;
	const uint8_t *tid = stun_msg_tid(m);
	size_t tlen = (m->flags & STUN_MF_COOKIE) ? STUN_TID_LEN : STUN_LEGACY_TID_LEN;

	if (cap)
		out[0] = 0;
	APPEND("%s %s (0x%04x) len=%u %s tid=", stun_method_name(m->method),
	       stun_class_name(m->cls), m->type, m->len - STUN_HDR_LEN,
	       (m->flags & STUN_MF_COOKIE) ? "rfc5389" : "legacy-no-cookie");
	for (size_t i = 0; i < tlen; i++)
		APPEND("%02x", tid[i]);
	APPEND("\n");
	for (unsigned i = 0; i < m->nattr; i++) {
		const struct stun_attr *a = &m->attr[i];
		const uint8_t *v = m->buf + a->off;
		const char *name = stun_attr_name(a->type);
		char tmp[200];

		if (name)
			APPEND("  %s (0x%04x) len=%u: ", name, a->type, a->len);
		else
			APPEND("  attr 0x%04x len=%u: ", a->type, a->len);
		switch (a->type) {
		case STUN_A_MAPPED_ADDRESS:
		case STUN_A_XOR_MAPPED_ADDRESS:
		case TURN_A_XOR_PEER_ADDRESS:
		case TURN_A_XOR_RELAYED_ADDRESS:
		case STUN_A_ALTERNATE_SERVER:
		case MSTURN_A_XOR_MAPPED_ADDRESS:
		case MSTURN_A_ALTERNATE_SERVER:
		case MSTURN_A_DESTINATION_ADDRESS:
		case STUN_A_RESPONSE_ORIGIN:
		case STUN_A_OTHER_ADDRESS: {
			struct ice_addr ad;
			/* find this exact instance: decode through a one-attribute view */
			struct stun_msg one = *m;
			one.nattr = 1;
			one.attr[0] = *a;
			if (stun_msg_get_addr(&one, a->type, &ad) == 0)
				APPEND("%s", ice_addr_fmt(&ad, tmp, sizeof(tmp)));
			else
				APPEND("(undecodable)");
			break;
		}
		case STUN_A_USERNAME:
		case STUN_A_REALM:
		case STUN_A_NONCE:
		case STUN_A_SOFTWARE:
		case MSICE_A_CANDIDATE_IDENTIFIER:
			fmt_printable(tmp, sizeof(tmp), v, a->len > 120 ? 120 : a->len);
			APPEND("\"%s\"", tmp);
			break;
		case STUN_A_ERROR_CODE: {
			int code;
			const char *r;
			uint16_t rl;
			struct stun_msg one = *m;
			one.nattr = 1;
			one.attr[0] = *a;
			if (stun_msg_get_error(&one, &code, &r, &rl) == 0) {
				fmt_printable(tmp, sizeof(tmp), (const uint8_t *)r, rl > 120 ? 120 : rl);
				APPEND("%d \"%s\"", code, tmp);
			} else {
				APPEND("(undecodable)");
			}
			break;
		}
		case STUN_A_UNKNOWN_ATTRIBUTES:
			for (unsigned k = 0; k + 1 < a->len; k += 2)
				APPEND("%s0x%04x", k ? " " : "", rd16(v + k));
			break;
		case ICE_A_ICE_CONTROLLED:
		case ICE_A_ICE_CONTROLLING:
			if (a->len == 8)
				APPEND("tie-breaker=0x%08x%08x", rd32(v), rd32(v + 4));
			break;
		case STUN_A_FINGERPRINT:
			APPEND("0x%08x%s", rd32(v),
			       !(m->flags & STUN_MF_FP_OK) ? "" :
			       (m->flags & STUN_MF_FP_LEGACY) ? " (legacy CRC, ok)" : " (ok)");
			break;
		case TURN_A_CHANNEL_NUMBER:
			if (a->len == 4)
				APPEND("0x%04x", rd16(v));
			break;
		case TURN_A_REQUESTED_TRANSPORT:
			if (a->len == 4)
				APPEND("protocol %u%s", v[0], v[0] == 17 ? " (UDP)" : "");
			break;
		default:
			if (a->len == 4)
				APPEND("%u (0x%08x)", rd32(v), rd32(v));
			else if (a->len == 0)
				APPEND("(empty)");
			else {
				for (unsigned k = 0; k < a->len && k < 24; k++)
					APPEND("%02x", v[k]);
				if (a->len > 24)
					APPEND("...");
			}
			break;
		}
		APPEND("\n");
	}
	return (int)(o < cap ? o : cap ? cap - 1 : 0);
}
