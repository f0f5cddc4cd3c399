/* STUN / TURN message codec: RFC 8489, RFC 8656, and the Microsoft dialects
 * (MS-ICE rfc3489bis-02 messages, MS-ICE2 attributes, MS-TURN). Zero-copy parsing
 * into attribute references, building into caller buffers; no heap use. */
#ifndef STUN_H
#define STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"

#define STUN_HDR_LEN 20
#define STUN_TID_LEN 12          /* RFC 8489 §5 */
#define STUN_LEGACY_TID_LEN 16   /* RFC 3489 §11.1: no magic cookie */
#define STUN_MAGIC_COOKIE 0x2112A442u /* RFC 8489 §5 */
#define STUN_FP_XOR 0x5354554eu  /* RFC 8489 §14.7 */
#define STUN_MI_LEN 20           /* HMAC-SHA1, RFC 8489 §14.5 */
#define STUN_MI256_MAX 32        /* RFC 8489 §14.6 */
#define STUN_MAX_ATTRS 40
#define STUN_MAX_UNKNOWN 8
#define STUN_MAX_MSG 1500

/* Methods (RFC 8489 §18.2, RFC 8656 §17) */
enum stun_method {
	STUN_M_BINDING = 0x001,
	TURN_M_ALLOCATE = 0x003,
	TURN_M_REFRESH = 0x004,
	TURN_M_SEND = 0x006,
	TURN_M_DATA = 0x007,
	TURN_M_CREATE_PERMISSION = 0x008,
	TURN_M_CHANNEL_BIND = 0x009,
	/* [MS-TURN] §2.2.1: same numbers, other meaning on an Edge server */
	MSTURN_M_SEND = 0x004,
	MSTURN_M_SET_ACTIVE_DEST = 0x006,
};

/* Classes (RFC 8489 §5) */
enum stun_class {
	STUN_C_REQUEST = 0x0000,
	STUN_C_INDICATION = 0x0010,
	STUN_C_SUCCESS = 0x0100,
	STUN_C_ERROR = 0x0110,
};

static inline uint16_t stun_type(uint16_t method, uint16_t cls)
{
	return (uint16_t)(((method & 0x0f80) << 2) | ((method & 0x0070) << 1) | (method & 0x000f) |
			  cls);
}
static inline uint16_t stun_type_method(uint16_t type)
{
	return (uint16_t)(((type & 0x3e00) >> 2) | ((type & 0x00e0) >> 1) | (type & 0x000f));
}
static inline uint16_t stun_type_class(uint16_t type)
{
	return type & 0x0110;
}

/* Attribute types */
enum stun_attr_type {
	STUN_A_MAPPED_ADDRESS = 0x0001,          /* RFC 8489 §14.1 */
	STUN_A_USERNAME = 0x0006,                /* RFC 8489 §14.3 */
	STUN_A_MESSAGE_INTEGRITY = 0x0008,       /* RFC 8489 §14.5 */
	STUN_A_ERROR_CODE = 0x0009,              /* RFC 8489 §14.8 */
	STUN_A_UNKNOWN_ATTRIBUTES = 0x000A,      /* RFC 8489 §14.9 */
	TURN_A_CHANNEL_NUMBER = 0x000C,          /* RFC 8656 §18.1 */
	TURN_A_LIFETIME = 0x000D,                /* RFC 8656 §18.2 */
	MSTURN_A_ALTERNATE_SERVER = 0x000E,      /* [MS-TURN] §2.2.2.5 */
	MSTURN_A_MAGIC_COOKIE = 0x000F,          /* [MS-TURN] §2.2.2.6 */
	MSTURN_A_BANDWIDTH = 0x0010,             /* [MS-TURN] §2.2.2.7 */
	MSTURN_A_DESTINATION_ADDRESS = 0x0011,   /* [MS-TURN] §2.2.2.8 */
	TURN_A_XOR_PEER_ADDRESS = 0x0012,        /* RFC 8656 §18.3; MS-TURN REMOTE-ADDRESS */
	TURN_A_DATA = 0x0013,                    /* RFC 8656 §18.4 */
	STUN_A_REALM = 0x0014,                   /* RFC 8489 §14.9 */
	STUN_A_NONCE = 0x0015,                   /* RFC 8489 §14.10 */
	TURN_A_XOR_RELAYED_ADDRESS = 0x0016,     /* RFC 8656 §18.5 */
	TURN_A_REQUESTED_ADDRESS_FAMILY = 0x0017,/* RFC 8656 §18.6 */
	TURN_A_EVEN_PORT = 0x0018,               /* RFC 8656 §18.7 */
	TURN_A_REQUESTED_TRANSPORT = 0x0019,     /* RFC 8656 §18.8 */
	TURN_A_DONT_FRAGMENT = 0x001A,           /* RFC 8656 §18.9 */
	STUN_A_MESSAGE_INTEGRITY_SHA256 = 0x001C,/* RFC 8489 §14.6 */
	STUN_A_PASSWORD_ALGORITHM = 0x001D,      /* RFC 8489 §14.12 */
	STUN_A_USERHASH = 0x001E,                /* RFC 8489 §14.4 */
	STUN_A_XOR_MAPPED_ADDRESS = 0x0020,      /* RFC 8489 §14.2; also the MS-ICE draft form */
	TURN_A_RESERVATION_TOKEN = 0x0022,       /* RFC 8656 §18.10 */
	ICE_A_PRIORITY = 0x0024,                 /* RFC 8445 §16.1 */
	ICE_A_USE_CANDIDATE = 0x0025,            /* RFC 8445 §16.1 */
	TURN_A_ADDITIONAL_ADDRESS_FAMILY = 0x8000,/* RFC 8656 §18.11 */
	TURN_A_ADDRESS_ERROR_CODE = 0x8001,      /* RFC 8656 §18.12 */
	TURN_A_ICMP = 0x8004,                    /* RFC 8656 §18.13 */
	MSTURN_A_MS_VERSION = 0x8008,            /* [MS-TURN] §2.2.2.14 */
	MSTURN_A_XOR_MAPPED_ADDRESS = 0x8020,    /* [MS-TURN] §2.2.2.15 */
	STUN_A_SOFTWARE = 0x8022,                /* RFC 8489 §14.14 */
	STUN_A_ALTERNATE_SERVER = 0x8023,        /* RFC 8489 §14.15 */
	STUN_A_FINGERPRINT = 0x8028,             /* RFC 8489 §14.7 */
	ICE_A_ICE_CONTROLLED = 0x8029,           /* RFC 8445 §16.1 */
	ICE_A_ICE_CONTROLLING = 0x802A,          /* RFC 8445 §16.1 */
	STUN_A_RESPONSE_ORIGIN = 0x802B,         /* RFC 5780 §7.3 */
	STUN_A_OTHER_ADDRESS = 0x802C,           /* RFC 5780 §7.4 */
	MSTURN_A_MS_SEQUENCE_NUMBER = 0x8050,    /* [MS-TURN] §2.2.2.16 */
	MSICE_A_CANDIDATE_IDENTIFIER = 0x8054,   /* [MS-ICE2] §2.2.2.3 */
	MSTURN_A_MS_SERVICE_QUALITY = 0x8055,    /* [MS-TURN] §2.2.2.17 */
	MSICE_A_IMPLEMENTATION_VERSION = 0x8070, /* [MS-ICE2] §2.2.2.2 */
};

/* [MS-TURN] §2.2.2: REALM and NONCE carry each other's numbers on an Edge server. */
#define MSTURN_A_REALM STUN_A_NONCE
#define MSTURN_A_NONCE STUN_A_REALM
#define MSTURN_MAGIC_COOKIE_VALUE 0x72c64bc6u /* [MS-TURN] §2.2.2.6 */
#define MSTURN_MS_SEQ_CONN_ID_LEN 20

/* Dialect of a message on the wire. */
enum stun_dialect {
	STUN_DIALECT_RFC = 0,    /* RFC 5389 / 8489 (also RFC 8445 ICE, RFC 8656 TURN) */
	STUN_DIALECT_MSICE2,     /* RFC header + MS-ICE2 attributes, 64-byte padded HMAC */
	STUN_DIALECT_LEGACY,     /* rfc3489bis-02 (MS-ICE): no cookie, unpadded, 64-byte HMAC */
	STUN_DIALECT_MSTURN,     /* [MS-TURN]: RFC header framing, MS attributes */
};

/* Errors: negative values, with stun_strerror(). */
enum stun_err {
	STUN_OK = 0,
	STUN_E_TRUNCATED = -1,       /* shorter than its header says */
	STUN_E_NOT_STUN = -2,        /* first bits / cookie / length don't say STUN */
	STUN_E_BAD_LENGTH = -3,      /* header length disagrees with the datagram */
	STUN_E_BAD_PADDING = -4,     /* attribute (with padding) runs past the end */
	STUN_E_AFTER_INTEGRITY = -5, /* attribute after MESSAGE-INTEGRITY other than FINGERPRINT */
	STUN_E_AFTER_FINGERPRINT = -6,
	STUN_E_FINGERPRINT = -7,     /* FINGERPRINT present and wrong */
	STUN_E_UNKNOWN_REQUIRED = -8,/* unknown comprehension-required attribute (420) */
	STUN_E_TOO_MANY_ATTRS = -9,
	STUN_E_BAD_ATTR = -10,       /* a known attribute with an impossible value */
	STUN_E_NO_INTEGRITY = -11,   /* MESSAGE-INTEGRITY needed and absent */
	STUN_E_INTEGRITY = -12,      /* MESSAGE-INTEGRITY wrong */
	STUN_E_NOSPACE = -13,        /* builder buffer too small */
	STUN_E_MISSING = -14,        /* attribute asked for is absent */
	STUN_E_BAD_FAMILY = -15,     /* address family neither IPv4 nor IPv6 */
	STUN_E_UNSUPPORTED = -16,
	STUN_E_ERR_MIN = -16,
};

const char *stun_strerror(int err);

/* What a datagram is, from its first bytes (RFC 7983 §7), without attribute parsing. */
enum stun_kind {
	STUN_KIND_NONE = 0,
	STUN_KIND_RFC,          /* STUN with magic cookie */
	STUN_KIND_LEGACY,       /* STUN without magic cookie (RFC 3489 / MS-ICE) */
	STUN_KIND_CHANNELDATA,  /* TURN ChannelData, RFC 8656 §12.4 */
};

/**
 * Classify a datagram cheaply: header bits, length and cookie only.
 * STUN needs the first two bits zero and a length that fits the datagram exactly (the
 * multiple-of-4 rule is left to stun_parse: Microsoft peers send unpadded attributes).
 * ChannelData needs 0x4000-0x4FFF and a fitting length.
 */
static inline enum stun_kind stun_classify(const uint8_t *p, size_t len)
{
	if (len >= STUN_HDR_LEN && (p[0] & 0xc0) == 0) {
		size_t mlen = ((size_t)p[2] << 8) | p[3];
		if (mlen + STUN_HDR_LEN != len)
			return STUN_KIND_NONE;
		if (p[4] == 0x21 && p[5] == 0x12 && p[6] == 0xA4 && p[7] == 0x42)
			return STUN_KIND_RFC;
		return STUN_KIND_LEGACY;
	}
	if (len >= 4 && (p[0] & 0xf0) == 0x40) {
		size_t dlen = ((size_t)p[2] << 8) | p[3];
		if (dlen + 4 <= len)
			return STUN_KIND_CHANNELDATA;
	}
	return STUN_KIND_NONE;
}

struct stun_attr {
	uint16_t type;
	uint16_t len;  /* value length as on the wire */
	uint16_t off;  /* offset of the value from the start of the message */
};

/* Parse flags */
#define STUN_PF_LEGACY_FP 0x01   /* accept MS-ICE2 legacy FINGERPRINT CRC (when no IMPL-VERSION) */
#define STUN_PF_MS_ATTRS 0x02    /* MS-TURN / MS-ICE attribute numbers count as understood */
#define STUN_PF_UNPADDED 0x04    /* MS-ICE / MS-ICE2 / MS-TURN: attributes not padded to 4 bytes */

/* Message flags set by the parser */
#define STUN_MF_COOKIE 0x01        /* magic cookie present */
#define STUN_MF_FP_OK 0x02         /* FINGERPRINT present and right */
#define STUN_MF_FP_LEGACY 0x04     /* ... with the MS-ICE2 legacy CRC */

struct stun_msg {
	const uint8_t *buf;
	uint16_t len;        /* whole message, header included */
	uint16_t type;
	uint16_t method;
	uint16_t cls;
	uint8_t flags;
	uint8_t nattr;
	uint8_t nunknown;
	uint16_t mi_off;     /* offset of the MESSAGE-INTEGRITY attribute header, 0 if none */
	uint16_t mi256_off;  /* offset of MESSAGE-INTEGRITY-SHA256 header, 0 if none */
	uint16_t fp_off;     /* offset of the FINGERPRINT attribute header, 0 if none */
	uint16_t unknown[STUN_MAX_UNKNOWN];
	struct stun_attr attr[STUN_MAX_ATTRS];
};

/**
 * Parse and validate the framing of a STUN message: header, attribute walk, order rules,
 * FINGERPRINT. Integrity is checked separately (the key depends on USERNAME).
 * @return 0, or a negative stun_err. On STUN_E_UNKNOWN_REQUIRED the message is fully
 *         parsed and msg->unknown lists the offending types (for a 420 reply).
 */
int stun_parse(struct stun_msg *msg, const uint8_t *buf, size_t len, unsigned flags);

/** The first attribute of a type, or NULL. */
const struct stun_attr *stun_msg_find(const struct stun_msg *msg, uint16_t type);

/** Attribute value pointer. */
static inline const uint8_t *stun_attr_value(const struct stun_msg *msg, const struct stun_attr *a)
{
	return msg->buf + a->off;
}

/** The transaction id: 12 bytes after the cookie, or 16 bytes for legacy messages. */
static inline const uint8_t *stun_msg_tid(const struct stun_msg *msg)
{
	return msg->buf + ((msg->flags & STUN_MF_COOKIE) ? 8 : 4);
}

int stun_msg_get_u32(const struct stun_msg *msg, uint16_t type, uint32_t *v);
int stun_msg_get_u64(const struct stun_msg *msg, uint16_t type, uint64_t *v);
/** Pointer and length of a string/bytes attribute. */
int stun_msg_get_bytes(const struct stun_msg *msg, uint16_t type, const uint8_t **p, uint16_t *len);
/**
 * Decode an address attribute. XOR'd types (0x0020, 0x0012, 0x0016, 0x8020) are XORed with
 * header bytes 4..19: the magic cookie and transaction id, or for legacy messages the first
 * bytes of the 16-byte transaction id, which is what the MS-ICE draft form expects.
 */
int stun_msg_get_addr(const struct stun_msg *msg, uint16_t type, struct ice_addr *addr);
/** ERROR-CODE: class*100+number, and the reason phrase. */
int stun_msg_get_error(const struct stun_msg *msg, int *code, const char **reason, uint16_t *rlen);

/** True for the attribute types this codec understands (comprehension-required range). */
bool stun_attr_known(uint16_t type, unsigned flags);
bool stun_attr_is_xor_addr(uint16_t type);
const char *stun_attr_name(uint16_t type);
const char *stun_method_name(uint16_t method);
const char *stun_class_name(uint16_t cls);

/* ------------------------------------------------------------------ integrity */

/*
 * HMAC-SHA1 key with the inner and outer SHA-1 chaining values precomputed after the
 * ipad / opad block (RFC 2104 §2): one SHA-1 block saved per side per message, no
 * allocation, and 40 bytes per key so that a dataplane can keep one per leg in cache.
 * The SHA-1 compression itself is OpenSSL's.
 */
struct stun_key {
	uint32_t inner[5];
	uint32_t outer[5];
};

/** Prepare a key from raw key bytes (short-term: the password; long-term: MD5 digest). */
int stun_key_init(struct stun_key *key, const void *secret, size_t len);
/** Long-term key: MD5(username ":" realm ":" password), RFC 8489 §9.2.2, then prepare it. */
int stun_key_init_long_term(struct stun_key *key, const char *user, const char *realm,
			    const char *password);
/** HMAC-SHA1 over up to three pieces (the pieces are fed in order). */
void stun_hmac_sha1(const struct stun_key *key, const void *p1, size_t l1, const void *p2,
		    size_t l2, const void *p3, size_t l3, uint8_t out[20]);

/* How MESSAGE-INTEGRITY is computed */
enum stun_mi_mode {
	STUN_MI_RFC = 0,     /* RFC 8489 §14.5: length covers up to MI, no pad */
	STUN_MI_PAD64,       /* RFC 3489 §11.2.8 / MS-ICE: message zero-padded to 64 bytes */
	STUN_MI_MSICE2,      /* MS-ICE2: padded to 64, and the length also counts FINGERPRINT */
};

/** Check MESSAGE-INTEGRITY in constant time. Returns 0, STUN_E_NO_INTEGRITY or STUN_E_INTEGRITY. */
int stun_msg_check_integrity(const struct stun_msg *msg, const struct stun_key *key,
			     enum stun_mi_mode mode);
/** Check MESSAGE-INTEGRITY-SHA256 with a raw key (RFC 8489 §14.6). */
int stun_msg_check_integrity_sha256(const struct stun_msg *msg, const void *secret, size_t len);

/** CRC-32 of the FINGERPRINT attribute (zlib), and the MS-ICE2 legacy variant. */
uint32_t stun_crc32(const uint8_t *p, size_t len);
uint32_t stun_crc32_legacy(const uint8_t *p, size_t len);
/** Plug a faster CRC-32 implementation (e.g. the dataplane's rte_net_crc). NULL restores zlib. */
void stun_set_crc32(uint32_t (*fn)(const uint8_t *p, size_t len));

/* ------------------------------------------------------------------ building */

#define STUN_BF_LEGACY 0x01    /* no magic cookie: 16-byte transaction id */
#define STUN_BF_UNPADDED 0x02  /* do not pad attribute values to 4 bytes */

struct stun_builder {
	uint8_t *buf;
	uint16_t cap;
	uint16_t len;
	uint8_t flags;
	uint8_t pad;  /* value of attribute padding bytes; 0 unless stun_build_set_pad() */
	int err;    /* sticky: the first failure */
};

/**
 * Start a message. tid is 12 bytes (16 with STUN_BF_LEGACY). Later calls on a failed
 * builder do nothing; stun_build_finish() reports the first error.
 */
void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t type,
		     const uint8_t *tid, unsigned flags);
/**
 * Byte written into attribute padding from now on. RFC 8489 §14 wants zero (the default);
 * RFC 5389 §15 allowed any value, and libnice and the RFC 5769 vectors use 0x20. Since
 * MESSAGE-INTEGRITY and FINGERPRINT cover the padding, reproducing such a peer's message
 * byte for byte needs its padding byte.
 */
static inline void stun_build_set_pad(struct stun_builder *b, uint8_t pad)
{
	b->pad = pad;
}
int stun_build_attr(struct stun_builder *b, uint16_t type, const void *val, size_t len);
int stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v);
int stun_build_u64(struct stun_builder *b, uint16_t type, uint64_t v);
int stun_build_str(struct stun_builder *b, uint16_t type, const char *s);
/** USERNAME zero-padded to a multiple of 4 bytes, as the Microsoft dialects want. */
int stun_build_str_pad4(struct stun_builder *b, uint16_t type, const char *s);
int stun_build_addr(struct stun_builder *b, uint16_t type, const struct ice_addr *addr);
int stun_build_error(struct stun_builder *b, int code, const char *reason);
int stun_build_unknown(struct stun_builder *b, const uint16_t *types, unsigned n);
int stun_build_integrity(struct stun_builder *b, const struct stun_key *key,
			 enum stun_mi_mode mode);
int stun_build_fingerprint(struct stun_builder *b, bool legacy);
/** Length of the finished message, or the builder's negative error. */
int stun_build_finish(struct stun_builder *b);

/* ------------------------------------------------------------------ framing */

/** TURN ChannelData (RFC 8656 §12.4). Returns 0 or a negative error. */
int stun_channeldata_parse(const uint8_t *p, size_t len, uint16_t *channel,
			   const uint8_t **data, uint16_t *dlen);
/** Write a ChannelData header + data; pad4 adds padding (stream transports). Returns length. */
int stun_channeldata_build(uint8_t *out, size_t cap, uint16_t channel, const void *data,
			   size_t dlen, bool pad4);

/** RFC 4571 framing for STUN over TCP: 16-bit length, then the message. */
int stun_rfc4571_frame(uint8_t *out, size_t cap, const void *msg, size_t len);
/** How many bytes the next frame needs in total (header included), 0 if < 2 bytes buffered. */
size_t stun_rfc4571_need(const uint8_t *p, size_t avail);

/* [MS-TURN] §2.1 TCP framing: type (2 control, 3 data), zero, 16-bit length. */
#define MSTURN_FRAME_CONTROL 2
#define MSTURN_FRAME_DATA 3
int msturn_tcp_frame(uint8_t *out, size_t cap, uint8_t type, const void *msg, size_t len);
int msturn_tcp_deframe(const uint8_t *p, size_t avail, uint8_t *type, const uint8_t **msg,
		       uint16_t *len);

/* ------------------------------------------------------------------ long-term credentials */

/* RFC 8489 §9.2 client side: the first request goes out unsigned, the 401 brings REALM and
 * NONCE, requests are then signed with MD5(user:realm:pass); a 438 brings a fresh NONCE.
 * MS-TURN swaps the REALM and NONCE attribute numbers. */
#define STUN_LT_MAX 128          /* RFC 8489 §14.9/§14.10: fewer than 128 characters */

enum stun_lt_verdict {
	STUN_LT_RETRY = 1,       /* send the request again, signed (new realm/nonce taken) */
	STUN_LT_REJECTED = -100, /* the server refused our credentials (401 after signing) */
	STUN_LT_BAD = -101,      /* a 401/438 without a usable REALM / NONCE */
	STUN_LT_OTHER = -102,    /* some other error: not an authentication matter */
};

struct stun_lt_client {
	char user[STUN_LT_MAX + 1];
	char pass[STUN_LT_MAX + 1];
	char realm[STUN_LT_MAX + 1];
	char nonce[STUN_LT_MAX + 1];
	struct stun_key key;
	bool have_key;
	bool ms_turn;
	uint8_t retries;         /* consecutive challenges; bounded so a server cannot loop us */
};

int stun_lt_init(struct stun_lt_client *c, const char *user, const char *pass, bool ms_turn);
/** Feed an error response to a request of ours. */
int stun_lt_on_error(struct stun_lt_client *c, const struct stun_msg *m);
/** A success response resets the challenge count. */
void stun_lt_on_success(struct stun_lt_client *c);
/** Add USERNAME, REALM, NONCE and MESSAGE-INTEGRITY (not FINGERPRINT) when a challenge was
 *  seen; adds nothing before the first challenge. */
int stun_lt_sign(struct stun_lt_client *c, struct stun_builder *b, enum stun_mi_mode mode);

/** Write a readable one-message dump (type, tid, each attribute decoded). Returns length. */
int stun_msg_format(const struct stun_msg *msg, char *out, size_t cap);

#endif
