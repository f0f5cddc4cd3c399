/* Tests of ice/stun against real libnice 0.1.21 traffic (tests/data/libnice-*.pcap, made by
 * tests/interop/capture-libnice.sh): parse, FINGERPRINT, MESSAGE-INTEGRITY, re-encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pcap_udp.h"
#include "stun.h"

#define MAX_DGRAMS 256
#define MAX_DGRAM 1500
#define LIBNICE_PAD 0x20 /* the byte libnice writes into attribute padding */

struct dgram {
	struct ice_addr src, dst;
	uint16_t len;
	uint8_t data[MAX_DGRAM];
};

/* One capture: its datagrams and the two ice-pwd values (controlling side's first). */
struct capture {
	unsigned n;
	struct dgram d[MAX_DGRAMS];
	char pwd[2][64];
	struct stun_key key[2];
};

/* What one pass over a capture found; the tests assert on it. */
struct tally {
	unsigned stun, data, requests, responses, indications;
	unsigned mi_ok, fp_std, fp_legacy_copies, identical_copies, rebuilt;
	unsigned software, xor_mapped;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void data_path(char *out, size_t cap, const char *file)
{
	const char *src = getenv("ICEGW_SRCDIR");

	snprintf(out, cap, "%s/tests/data/%s", src ? src : ".", file);
}

static void load_capture(struct capture *c, const char *mode)
{
	char path[4096], err[256], file[64], line[128];
	struct pcap_udp_reader r;
	struct pcap_udp_pkt pkt;
	FILE *f;
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(file, sizeof(file), "libnice-%s.pcap", mode);
	data_path(path, sizeof(path), file);
	if (pcap_udp_open(&r, path, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
	while ((rc = pcap_udp_next(&r, &pkt)) != PCAP_UDP_EOF) {
		assert_int_not_equal(rc, PCAP_UDP_ERROR);
		if (rc == 0)
			continue;
		assert_true(c->n < MAX_DGRAMS);
		assert_true(pkt.len <= MAX_DGRAM);
		c->d[c->n].src = pkt.src;
		c->d[c->n].dst = pkt.dst;
		c->d[c->n].len = (uint16_t)pkt.len;
		memcpy(c->d[c->n].data, pkt.payload, pkt.len);
		c->n++;
	}
	pcap_udp_close(&r);
	assert_true(c->n > 0);

	snprintf(file, sizeof(file), "libnice-%s.creds", mode);
	data_path(path, sizeof(path), file);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	for (int i = 0; i < 2; i++) {
		assert_non_null(fgets(line, sizeof(line), f));
		line[strcspn(line, "\r\n")] = 0;
		/* RFC 8839 §5.4: ice-pwd is 22 to 256 characters */
		assert_true(strlen(line) >= 22 && strlen(line) < sizeof(c->pwd[i]));
		strcpy(c->pwd[i], line);
		assert_int_equal(stun_key_init(&c->key[i], line, strlen(line)), 0);
	}
	fclose(f);
}

static bool is_loopback(const struct ice_addr *a)
{
	return a->family == ICE_AF_INET && a->ip[0] == 127;
}

/*
 * USERNAME of an ICE check: "<receiver ufrag>:<sender ufrag>" (RFC 8445 §7.2.2); MS-ICE2
 * zero-pads it to a multiple of 4 ([MS-ICE2] §2.2.2.1). Returns the string length.
 */
static size_t check_username(const struct stun_msg *m, bool padded, char *out, size_t cap)
{
	const uint8_t *u;
	uint16_t ul;
	size_t n;
	const char *colon;

	assert_int_equal(stun_msg_get_bytes(m, STUN_A_USERNAME, &u, &ul), 0);
	assert_true(ul > 0 && ul < cap);
	n = strnlen((const char *)u, ul);
	if (padded) {
		assert_int_equal(ul % 4, 0);
		assert_true(ul - n < 4);
		for (size_t i = n; i < ul; i++)
			assert_int_equal(u[i], 0);
	} else {
		/* RFC 5389 §15 padding, which libnice fills with spaces (RFC 8489 §14: zeros) */
		assert_int_equal(n, ul);
		for (size_t i = ul; i % 4; i++)
			assert_int_equal(u[i], LIBNICE_PAD);
	}
	memcpy(out, u, n);
	out[n] = 0;
	colon = strchr(out, ':');
	assert_non_null(colon);
	assert_null(strchr(colon + 1, ':'));
	/* libnice's ufrags are 4 ice-chars (RFC 8839 §5.4 allows 4..256) */
	assert_true(colon - out >= 4 && strlen(colon + 1) >= 4);
	return n;
}

/*
 * Rebuild a parsed message with our builder: same type, tid, attributes in the same order,
 * same key, MI mode and CRC variant. Typed builders where the attribute has one.
 */
static int rebuild(const struct stun_msg *m, const struct stun_key *key, enum stun_mi_mode mode,
		   bool ms, bool legacy_fp, uint8_t *out, size_t cap)
{
	struct stun_builder b;

	stun_build_init(&b, out, cap, m->type, stun_msg_tid(m), 0);
	stun_build_set_pad(&b, LIBNICE_PAD);
	for (unsigned i = 0; i < m->nattr; i++) {
		const struct stun_attr *a = &m->attr[i];
		const uint8_t *v = stun_attr_value(m, a);
		struct stun_msg one = *m;
		struct ice_addr ad;
		char s[128];

		one.nattr = 1;
		one.attr[0] = *a;
		switch (a->type) {
		case STUN_A_MESSAGE_INTEGRITY:
			stun_build_integrity(&b, key, mode);
			break;
		case STUN_A_FINGERPRINT:
			stun_build_fingerprint(&b, legacy_fp);
			break;
		case STUN_A_XOR_MAPPED_ADDRESS:
			assert_int_equal(stun_msg_get_addr(&one, a->type, &ad), 0);
			stun_build_addr(&b, a->type, &ad);
			break;
		case ICE_A_PRIORITY:
		case MSICE_A_IMPLEMENTATION_VERSION:
			stun_build_u32(&b, a->type, rd32(v));
			break;
		case ICE_A_ICE_CONTROLLING:
		case ICE_A_ICE_CONTROLLED: {
			uint64_t tb;
			assert_int_equal(stun_msg_get_u64(&one, a->type, &tb), 0);
			stun_build_u64(&b, a->type, tb);
			break;
		}
		case STUN_A_USERNAME:
		case MSICE_A_CANDIDATE_IDENTIFIER:
			if (ms) {
				size_t n = strnlen((const char *)v, a->len);
				assert_true(n < sizeof(s));
				memcpy(s, v, n);
				s[n] = 0;
				stun_build_str_pad4(&b, a->type, s);
				break;
			}
			/* fall through */
		default:
			stun_build_attr(&b, a->type, v, a->len);
			break;
		}
	}
	return stun_build_finish(&b);
}

struct sent_req {
	uint8_t tid[STUN_TID_LEN];
	int key;
};

static int key_for_tid(const struct sent_req *r, unsigned n, const uint8_t *tid)
{
	for (unsigned i = 0; i < n; i++)
		if (memcmp(r[i].tid, tid, STUN_TID_LEN) == 0)
			return r[i].key;
	return -1;
}

/*
 * Walk a capture. ms: OC2007R2 (MS-ICE2 attributes, MI over the 64-byte padded message,
 * legacy FINGERPRINT copies); otherwise RFC 5245 over RFC 5389 STUN.
 */
static void walk(struct capture *c, bool ms, struct tally *t)
{
	const unsigned pflags = ms ? STUN_PF_LEGACY_FP : 0;
	const enum stun_mi_mode mode = ms ? STUN_MI_MSICE2 : STUN_MI_RFC;
	const enum stun_mi_mode wrong = ms ? STUN_MI_RFC : STUN_MI_MSICE2;
	struct sent_req reqs[MAX_DGRAMS];
	unsigned nreq = 0;
	char uname[2][128] = {{0}};

	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < c->n; i++) {
		const struct dgram *d = &c->d[i];
		struct stun_msg m;
		uint8_t out[MAX_DGRAM];
		int k = -1, rc, n;
		bool dup = false, legacy_copy = false;

		assert_true(is_loopback(&d->src) && is_loopback(&d->dst));
		if (stun_classify(d->data, d->len) == STUN_KIND_NONE) {
			/* nicepeer's payload, never mistaken for STUN (RFC 7983 §7) */
			assert_true(d->len > 14 && memcmp(d->data, "nicepeer-data-", 14) == 0);
			t->data++;
			continue;
		}
		assert_int_equal(stun_classify(d->data, d->len), STUN_KIND_RFC);
		t->stun++;

		/* libnice's OC2007R2 copy of a check: same transaction, legacy CRC. */
		for (unsigned j = 0; j < i && ms; j++) {
			const struct dgram *e = &c->d[j];
			if (e->len == d->len && stun_type_class(rd16(e->data)) == STUN_C_REQUEST &&
			    memcmp(e->data, d->data, 4) == 0 && memcmp(e->data + 8, d->data + 8, 12) == 0) {
				struct stun_msg orig;
				uint32_t fp = rd32(d->data + d->len - 4);

				dup = true;
				if (memcmp(e->data, d->data, d->len) == 0) {
					t->identical_copies++;
					break;
				}
				/* Only the FINGERPRINT value differs, and it is the legacy CRC ... */
				assert_memory_equal(e->data, d->data, d->len - 4u);
				assert_int_equal(fp, stun_crc32_legacy(d->data, d->len - 8u) ^ STUN_FP_XOR);
				assert_int_not_equal(fp, stun_crc32(d->data, d->len - 8u) ^ STUN_FP_XOR);
				/* ... which [MS-ICE2] refuses next to IMPLEMENTATION-VERSION (libnice's
				 * own receiver too: the capture holds no answer to the copy). */
				assert_int_equal(stun_parse(&m, d->data, d->len, pflags),
						 STUN_E_FINGERPRINT);
				/* Our builder makes the same copy from the original. */
				assert_int_equal(stun_parse(&orig, e->data, e->len, pflags), 0);
				k = key_for_tid(reqs, nreq, stun_msg_tid(&orig));
				assert_true(k >= 0);
				n = rebuild(&orig, &c->key[k], mode, ms, true, out, sizeof(out));
				assert_int_equal(n, d->len);
				assert_memory_equal(out, d->data, d->len);
				t->fp_legacy_copies++;
				legacy_copy = true;
				break;
			}
		}
		if (legacy_copy)
			continue;

		rc = stun_parse(&m, d->data, d->len, pflags);
		if (rc)
			fail_msg("datagram %u: %s", i, stun_strerror(rc));
		assert_int_equal(m.method, STUN_M_BINDING);
		assert_true(m.fp_off > 0 && (m.flags & STUN_MF_FP_OK));
		assert_false(m.flags & STUN_MF_FP_LEGACY);
		t->fp_std++;
		if (stun_msg_find(&m, STUN_A_SOFTWARE))
			t->software++;
		if (ms) {
			struct stun_msg u;
			/* libnice's OC2007R2 agent parses unaligned (NO_ALIGNED_ATTRIBUTES) but pads
			 * every value it sends to 4 bytes itself, so both readings agree. */
			for (unsigned a = 0; a < m.nattr; a++)
				assert_int_equal(m.attr[a].len % 4, 0);
			assert_int_equal(stun_parse(&u, d->data, d->len, pflags | STUN_PF_UNPADDED), 0);
			assert_int_equal(u.nattr, m.nattr);
		}

		switch (m.cls) {
		case STUN_C_REQUEST: {
			bool ctl = stun_msg_find(&m, ICE_A_ICE_CONTROLLING) != NULL;
			uint32_t v;
			char u[128];

			t->requests++;
			assert_true(ctl != (stun_msg_find(&m, ICE_A_ICE_CONTROLLED) != NULL));
			assert_int_equal(stun_msg_get_u32(&m, ICE_A_PRIORITY, &v), 0);
			/* Checks are keyed with the receiver's password. */
			k = ctl ? 1 : 0;
			check_username(&m, ms, u, sizeof(u));
			if (!uname[k][0])
				strcpy(uname[k], u);
			assert_string_equal(uname[k], u);
			if (ms) {
				const uint8_t *cid;
				uint16_t cl;
				/* [MS-ICE2] §2.2.2.2 / §2.2.2.3 */
				assert_int_equal(stun_msg_get_u32(&m, MSICE_A_IMPLEMENTATION_VERSION, &v), 0);
				assert_int_equal(v, 2);
				assert_int_equal(stun_msg_get_bytes(&m, MSICE_A_CANDIDATE_IDENTIFIER, &cid, &cl), 0);
				assert_true(cl >= 4 && cl % 4 == 0 && cid[0] != 0);
			}
			if (!dup) {
				memcpy(reqs[nreq].tid, stun_msg_tid(&m), STUN_TID_LEN);
				reqs[nreq++].key = k;
			}
			break;
		}
		case STUN_C_SUCCESS: {
			struct ice_addr xa;
			uint32_t v;
			char u[128];

			t->responses++;
			k = key_for_tid(reqs, nreq, stun_msg_tid(&m));
			assert_true(k >= 0);
			/* libnice echoes the request's USERNAME in its responses */
			check_username(&m, ms, u, sizeof(u));
			assert_string_equal(uname[k], u);
			assert_int_equal(stun_msg_get_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &xa), 0);
			assert_true(ice_addr_eq(&xa, &d->dst));
			t->xor_mapped++;
			if (ms) {
				assert_int_equal(stun_msg_get_u32(&m, MSICE_A_IMPLEMENTATION_VERSION, &v), 0);
				assert_int_equal(v, 2);
			}
			break;
		}
		case STUN_C_INDICATION:
			/* The keep-alive: a Binding indication carrying FINGERPRINT only. */
			t->indications++;
			assert_int_equal(m.nattr, 1);
			assert_int_equal(m.mi_off, 0);
			break;
		default:
			fail_msg("datagram %u: unexpected %s", i, stun_class_name(m.cls));
		}

		if (k >= 0) {
			assert_int_equal(stun_msg_check_integrity(&m, &c->key[k], mode), 0);
			assert_int_equal(stun_msg_check_integrity(&m, &c->key[!k], mode), STUN_E_INTEGRITY);
			assert_int_equal(stun_msg_check_integrity(&m, &c->key[k], wrong), STUN_E_INTEGRITY);
			t->mi_ok++;
		}

		n = rebuild(&m, k >= 0 ? &c->key[k] : NULL, mode, ms, false, out, sizeof(out));
		assert_int_equal(n, d->len);
		assert_memory_equal(out, d->data, d->len);
		t->rebuilt++;
	}
	/* The two directions' USERNAMEs are each other's halves swapped. */
	{
		char swapped[128];
		const char *colon = strchr(uname[0], ':');

		assert_non_null(colon);
		snprintf(swapped, sizeof(swapped), "%s:%.*s", colon + 1, (int)(colon - uname[0]),
			 uname[0]);
		assert_string_equal(swapped, uname[1]);
	}
}

static void test_libnice_rfc5245(void **state)
{
	static struct capture c;
	struct tally t;

	(void)state;
	load_capture(&c, "rfc5245");
	walk(&c, false, &t);
	assert_true(t.requests >= 2);  /* one check each way */
	assert_true(t.responses >= 2);
	assert_true(t.indications >= 1);
	assert_int_equal(t.mi_ok, t.requests + t.responses);
	assert_int_equal(t.rebuilt, t.stun);
	assert_int_equal(t.xor_mapped, t.responses);
	assert_int_equal(t.fp_legacy_copies + t.identical_copies, 0);
	assert_int_equal(t.software, 0); /* libnice 0.1.21 sends no SOFTWARE */
	assert_true(t.data >= 6);        /* both nicepeers' datagrams */
}

static void test_libnice_oc2007r2(void **state)
{
	static struct capture c;
	struct tally t;

	(void)state;
	load_capture(&c, "oc2007r2");
	walk(&c, true, &t);
	assert_true(t.requests >= 2);
	assert_true(t.responses >= 2);
	assert_true(t.indications >= 1);
	/* capture-libnice.sh keeps a run in which the legacy copy differs */
	assert_true(t.fp_legacy_copies >= 1);
	assert_int_equal(t.mi_ok, t.requests + t.responses);
	assert_int_equal(t.rebuilt + t.fp_legacy_copies, t.stun);
	assert_int_equal(t.xor_mapped, t.responses);
	assert_int_equal(t.software, 0);
	assert_true(t.data >= 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libnice_rfc5245),
		cmocka_unit_test(test_libnice_oc2007r2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
