/* MESSAGE-INTEGRITY (HMAC-SHA1 with precomputed keyed state), MESSAGE-INTEGRITY-SHA256,
 * long-term keys, and the FINGERPRINT CRC-32 (zlib, plus the MS-ICE2 legacy table). */

/* The SHA1_* calls are deprecated in OpenSSL 3 but remain its only allocation-free way
 * to resume a hash from a saved state; EVP_MD_CTX_copy / EVP_MAC_CTX_dup allocate per
 * message. tests/bench/bench_stun measures the variants side by side. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "stun.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>
#include <zlib.h>

/* The chaining value after one block is all a resumed SHA-1 needs: SHA_CTX's fields are
 * public in <openssl/sha.h>, so the state is rebuilt from it with the bit count of one
 * 64-byte block. */
static void ctx_save(uint32_t h[5], const SHA_CTX *c)
{
	h[0] = c->h0;
	h[1] = c->h1;
	h[2] = c->h2;
	h[3] = c->h3;
	h[4] = c->h4;
}

static inline void ctx_load(SHA_CTX *c, const uint32_t h[5])
{
	c->h0 = h[0];
	c->h1 = h[1];
	c->h2 = h[2];
	c->h3 = h[3];
	c->h4 = h[4];
	c->Nl = SHA_CBLOCK * 8;
	c->Nh = 0;
	c->num = 0;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

int stun_key_init(struct stun_key *key, const void *secret, size_t len)
{
	uint8_t k[SHA_CBLOCK], pad[SHA_CBLOCK];
	SHA_CTX c;

	memset(key, 0, sizeof(*key));
	memset(k, 0, sizeof(k));
	/* RFC 2104 §2: keys longer than the block are hashed first */
	if (len > SHA_CBLOCK)
		SHA1(secret, len, k);
	else if (len)
		memcpy(k, secret, len);

	for (int i = 0; i < SHA_CBLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	SHA1_Init(&c);
	SHA1_Update(&c, pad, SHA_CBLOCK);
	ctx_save(key->inner, &c);

	for (int i = 0; i < SHA_CBLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	SHA1_Init(&c);
	SHA1_Update(&c, pad, SHA_CBLOCK);
	ctx_save(key->outer, &c);

	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(&c, sizeof(c));
	return 0;
}

int stun_key_init_long_term(struct stun_key *key, const char *user, const char *realm,
			    const char *password)
{
	uint8_t md[MD5_DIGEST_LENGTH];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int mdlen = 0;
	int ok;

	if (!ctx)
		return STUN_E_NOSPACE;
	/* RFC 8489 §9.2.2: key = MD5(username ":" OpaqueString(realm) ":" password) */
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) &&
	     EVP_DigestUpdate(ctx, user, strlen(user)) && EVP_DigestUpdate(ctx, ":", 1) &&
	     EVP_DigestUpdate(ctx, realm, strlen(realm)) && EVP_DigestUpdate(ctx, ":", 1) &&
	     EVP_DigestUpdate(ctx, password, strlen(password)) &&
	     EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen != sizeof(md))
		return STUN_E_UNSUPPORTED;
	return stun_key_init(key, md, sizeof(md));
}

void stun_hmac_sha1(const struct stun_key *key, const void *p1, size_t l1, const void *p2,
		    size_t l2, const void *p3, size_t l3, uint8_t out[20])
{
	SHA_CTX c;
	uint8_t inner[SHA_DIGEST_LENGTH];

	ctx_load(&c, key->inner);
	if (l1)
		SHA1_Update(&c, p1, l1);
	if (l2)
		SHA1_Update(&c, p2, l2);
	if (l3)
		SHA1_Update(&c, p3, l3);
	SHA1_Final(inner, &c);
	ctx_load(&c, key->outer);
	SHA1_Update(&c, inner, sizeof(inner));
	SHA1_Final(out, &c);
}

static const uint8_t zero64[64];

int stun_msg_check_integrity(const struct stun_msg *m, const struct stun_key *key,
			     enum stun_mi_mode mode)
{
	uint8_t hdr[STUN_HDR_LEN], mac[STUN_MI_LEN];
	size_t total, pad = 0;

	if (!m->mi_off)
		return STUN_E_NO_INTEGRITY;
	/* RFC 8489 §14.5: the length counts up to MESSAGE-INTEGRITY. MS-ICE2 peers sign
	 * with the final length (FINGERPRINT included), i.e. the header as received. */
	total = (size_t)m->mi_off + 4 + STUN_MI_LEN;
	if (mode == STUN_MI_MSICE2)
		total = m->len;
	if (mode != STUN_MI_RFC)
		pad = (64 - m->mi_off % 64) % 64;
	memcpy(hdr, m->buf, STUN_HDR_LEN);
	hdr[2] = (uint8_t)((total - STUN_HDR_LEN) >> 8);
	hdr[3] = (uint8_t)(total - STUN_HDR_LEN);
	stun_hmac_sha1(key, hdr, STUN_HDR_LEN, m->buf + STUN_HDR_LEN,
		       (size_t)m->mi_off - STUN_HDR_LEN, zero64, pad, mac);
	if (CRYPTO_memcmp(mac, m->buf + m->mi_off + 4, STUN_MI_LEN) != 0)
		return STUN_E_INTEGRITY;
	return 0;
}

int stun_msg_check_integrity_sha256(const struct stun_msg *m, const void *secret, size_t len)
{
	uint8_t hdr[STUN_HDR_LEN], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t alen, total;
	HMAC_CTX *h;
	int ok;

	if (!m->mi256_off)
		return STUN_E_NO_INTEGRITY;
	alen = rd16(m->buf + m->mi256_off + 2);
	/* RFC 8489 §14.6: length covers up to and including MESSAGE-INTEGRITY-SHA256 */
	total = (size_t)m->mi256_off + 4 + alen;
	memcpy(hdr, m->buf, STUN_HDR_LEN);
	hdr[2] = (uint8_t)((total - STUN_HDR_LEN) >> 8);
	hdr[3] = (uint8_t)(total - STUN_HDR_LEN);
	h = HMAC_CTX_new();
	if (!h)
		return STUN_E_NOSPACE;
	ok = HMAC_Init_ex(h, secret, (int)len, EVP_sha256(), NULL) &&
	     HMAC_Update(h, hdr, sizeof(hdr)) &&
	     HMAC_Update(h, m->buf + STUN_HDR_LEN, (size_t)m->mi256_off - STUN_HDR_LEN) &&
	     HMAC_Final(h, mac, &maclen);
	HMAC_CTX_free(h);
	if (!ok)
		return STUN_E_UNSUPPORTED;
	/* The value may be truncated to 16..32 bytes: compare the prefix sent. */
	if (alen > maclen || CRYPTO_memcmp(mac, m->buf + m->mi256_off + 4, alen) != 0)
		return STUN_E_INTEGRITY;
	return 0;
}

/* ------------------------------------------------------------------ CRC-32 */

static uint32_t zlib_crc(const uint8_t *p, size_t len)
{
	return (uint32_t)crc32(0L, p, (uInt)len);
}

static uint32_t (*crc_fn)(const uint8_t *, size_t) = zlib_crc;

void stun_set_crc32(uint32_t (*fn)(const uint8_t *p, size_t len))
{
	crc_fn = fn ? fn : zlib_crc;
}

uint32_t stun_crc32(const uint8_t *p, size_t len)
{
	return crc_fn(p, len);
}

/*
 * MS-ICE2 peers of the Office Communicator 2007 R2 era computed FINGERPRINT with a CRC-32
 * table in which one entry lost a digit (0x8bbeb8ea became 0x8bbe8ea). Interoperating
 * needs the same mistake, so the table is zlib's with that one entry changed.
 */
static uint32_t legacy_table[256];
static pthread_once_t legacy_once = PTHREAD_ONCE_INIT;

static void legacy_init(void)
{
	const z_crc_t *t = get_crc_table();

	for (int i = 0; i < 256; i++) {
		legacy_table[i] = (uint32_t)t[i];
		if (legacy_table[i] == 0x8bbeb8eau)
			legacy_table[i] = 0x08bbe8eau;
	}
}

uint32_t stun_crc32_legacy(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	pthread_once(&legacy_once, legacy_init);
	for (size_t i = 0; i < len; i++)
		c = legacy_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}
