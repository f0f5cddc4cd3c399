/* Side-by-side cost of the MESSAGE-INTEGRITY HMAC-SHA1 variants OpenSSL 3 offers against
 * ours, of FINGERPRINT CRC-32 (zlib vs DPDK), and of a whole Binding request -> response. */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <zlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

#ifdef HAVE_DPDK
#include <rte_eal.h>
#include <rte_net_crc.h>
#endif

#include "stun.h"

#define ICE_PWD "aN7sGq1kV0xbRl1RmTxUk/W" /* 22+ chars, as RFC 8445 §5.3 wants >= 128 bits */

/* ------------------------------------------------------------------ allocation count */

/* OpenSSL's allocations, counted so "allocation-free" is measured, not assumed. */
static unsigned long n_alloc;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	n_alloc++;
	return malloc(n);
}
static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	n_alloc++;
	return realloc(p, n);
}
static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

/* ------------------------------------------------------------------ the message */

static uint8_t req[STUN_MAX_MSG];
static size_t req_len;
static struct stun_msg req_msg;
static uint8_t signed_part[STUN_MAX_MSG]; /* header with MI length + body up to MI */
static size_t signed_len;
static size_t crc_len;                    /* bytes FINGERPRINT covers */
static struct stun_key key;
static volatile uint32_t sink;

static void make_request(void)
{
	static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	struct stun_builder b;
	int len;

	stun_key_init(&key, ICE_PWD, strlen(ICE_PWD));
	/* the typical ICE connectivity check of RFC 8445 §7.2.2 */
	stun_build_init(&b, req, sizeof(req), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "a7Xq4Lp2:Zk9mW3vT");
	stun_build_u32(&b, ICE_A_PRIORITY, 0x6e0001ffu);
	stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 0x932ff9b151263b36ull);
	stun_build_attr(&b, ICE_A_USE_CANDIDATE, NULL, 0);
	stun_build_integrity(&b, &key, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	len = stun_build_finish(&b);
	if (len < 0 || stun_parse(&req_msg, req, (size_t)len, 0) != 0 ||
	    stun_msg_check_integrity(&req_msg, &key, STUN_MI_RFC) != 0) {
		fprintf(stderr, "bench_stun: cannot build the test request\n");
		exit(1);
	}
	req_len = (size_t)len;
	signed_len = req_msg.mi_off;
	memcpy(signed_part, req, signed_len);
	/* RFC 8489 §14.5: the length the MAC sees ends with MESSAGE-INTEGRITY */
	signed_part[2] = (uint8_t)((signed_len + 24 - STUN_HDR_LEN) >> 8);
	signed_part[3] = (uint8_t)(signed_len + 24 - STUN_HDR_LEN);
	crc_len = req_msg.fp_off;
}

/* ------------------------------------------------------------------ HMAC variants */

static EVP_MAC *mac_alg;
static EVP_MAC_CTX *mac_ctx;       /* (b): re-keyed per message */
static EVP_MAC_CTX *mac_keyed;     /* (c): keyed once, duplicated per message */
static HMAC_CTX *hmac_keyed, *hmac_work;

static void hmac_setup(void)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
		OSSL_PARAM_construct_end(),
	};

	mac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	mac_ctx = mac_alg ? EVP_MAC_CTX_new(mac_alg) : NULL;
	mac_keyed = mac_alg ? EVP_MAC_CTX_new(mac_alg) : NULL;
	hmac_keyed = HMAC_CTX_new();
	hmac_work = HMAC_CTX_new();
	if (!mac_ctx || !mac_keyed || !hmac_keyed || !hmac_work ||
	    !EVP_MAC_CTX_set_params(mac_ctx, params) ||
	    !EVP_MAC_init(mac_keyed, (const unsigned char *)ICE_PWD, strlen(ICE_PWD), params) ||
	    !HMAC_Init_ex(hmac_keyed, ICE_PWD, (int)strlen(ICE_PWD), EVP_sha1(), NULL) ||
	    !HMAC_Init_ex(hmac_work, ICE_PWD, (int)strlen(ICE_PWD), EVP_sha1(), NULL)) {
		fprintf(stderr, "bench_stun: OpenSSL HMAC setup failed\n");
		exit(1);
	}
}

static void hmac_oneshot(uint8_t out[20])
{
	unsigned int n = 0;
	HMAC(EVP_sha1(), ICE_PWD, (int)strlen(ICE_PWD), signed_part, signed_len, out, &n);
}

static void hmac_evp_mac_init(uint8_t out[20])
{
	size_t n = 0;
	EVP_MAC_init(mac_ctx, (const unsigned char *)ICE_PWD, strlen(ICE_PWD), NULL);
	EVP_MAC_update(mac_ctx, signed_part, signed_len);
	EVP_MAC_final(mac_ctx, out, &n, 20);
}

static void hmac_evp_mac_dup(uint8_t out[20])
{
	size_t n = 0;
	EVP_MAC_CTX *c = EVP_MAC_CTX_dup(mac_keyed);
	EVP_MAC_update(c, signed_part, signed_len);
	EVP_MAC_final(c, out, &n, 20);
	EVP_MAC_CTX_free(c);
}

static void hmac_ctx_copy(uint8_t out[20])
{
	unsigned int n = 0;
	HMAC_CTX_copy(hmac_work, hmac_keyed);
	HMAC_Update(hmac_work, signed_part, signed_len);
	HMAC_Final(hmac_work, out, &n);
}

static void hmac_ctx_reinit(uint8_t out[20])
{
	unsigned int n = 0;
	/* a NULL key reuses the one set before: the classic per-message reset */
	HMAC_Init_ex(hmac_work, NULL, 0, NULL, NULL);
	HMAC_Update(hmac_work, signed_part, signed_len);
	HMAC_Final(hmac_work, out, &n);
}

static void hmac_icegw(uint8_t out[20])
{
	stun_hmac_sha1(&key, signed_part, signed_len, NULL, 0, NULL, 0, out);
}

/* ------------------------------------------------------------------ CRC variants */

static uint32_t crc_zlib(void)
{
	return (uint32_t)crc32(0L, req, (uInt)crc_len);
}

#ifdef HAVE_DPDK
static uint32_t crc_dpdk(void)
{
	return rte_net_crc_calc(req, (uint32_t)crc_len, RTE_NET_CRC32_ETH);
}
#endif

/* ------------------------------------------------------------------ whole exchange */

static struct ice_addr peer;

/* One connectivity check answered: parse, authenticate, build the signed response. */
static int binding_exchange(uint8_t *resp)
{
	struct stun_msg m;
	struct stun_builder b;

	if (stun_parse(&m, req, req_len, 0) != 0 ||
	    stun_msg_check_integrity(&m, &key, STUN_MI_RFC) != 0)
		return -1;
	stun_build_init(&b, resp, STUN_MAX_MSG, stun_type(STUN_M_BINDING, STUN_C_SUCCESS),
			stun_msg_tid(&m), 0);
	stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &peer);
	stun_build_integrity(&b, &key, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	return stun_build_finish(&b);
}

/* ------------------------------------------------------------------ timing */

enum { V_ONESHOT, V_EVP_INIT, V_EVP_DUP, V_HMAC_COPY, V_HMAC_REINIT, V_ICEGW, V_CRC_ZLIB,
       V_CRC_DPDK_SCALAR, V_CRC_DPDK_SSE42, V_CRC_DPDK_AVX512, V_EXCHANGE, V_EXCHANGE_DPDK, V_N };

struct variant {
	const char *name;
	const char *group;
	int enabled;
	double ns[64];     /* per round */
	double cyc[64];
	double allocs;     /* per op, from the first round */
};

static struct variant var[V_N] = {
	[V_ONESHOT] = {"(a) HMAC() one-shot", "hmac", 1, {0}, {0}, 0},
	[V_EVP_INIT] = {"(b) EVP_MAC_init per message", "hmac", 1, {0}, {0}, 0},
	[V_EVP_DUP] = {"(c) EVP_MAC_CTX_dup of keyed ctx", "hmac", 1, {0}, {0}, 0},
	[V_HMAC_COPY] = {"(d) HMAC_CTX_copy of keyed ctx", "hmac", 1, {0}, {0}, 0},
	[V_HMAC_REINIT] = {"(d') HMAC_Init_ex(ctx, NULL key)", "hmac", 1, {0}, {0}, 0},
	[V_ICEGW] = {"(e) stun_hmac_sha1 precomputed", "hmac", 1, {0}, {0}, 0},
	[V_CRC_ZLIB] = {"zlib crc32", "crc", 1, {0}, {0}, 0},
	[V_CRC_DPDK_SCALAR] = {"rte_net_crc_calc SCALAR", "crc", 0, {0}, {0}, 0},
	[V_CRC_DPDK_SSE42] = {"rte_net_crc_calc SSE42", "crc", 0, {0}, {0}, 0},
	[V_CRC_DPDK_AVX512] = {"rte_net_crc_calc AVX512", "crc", 0, {0}, {0}, 0},
	[V_EXCHANGE] = {"parse+check MI+build XMA/MI/FP", "exchange", 1, {0}, {0}, 0},
	[V_EXCHANGE_DPDK] = {"  same, CRC via rte_net_crc", "exchange", 0, {0}, {0}, 0},
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t tsc(void)
{
#ifdef HAVE_TSC
	return __rdtsc();
#else
	return 0;
#endif
}

#ifdef HAVE_DPDK
static const enum rte_net_crc_alg dpdk_alg[V_N] = {
	[V_CRC_DPDK_SCALAR] = RTE_NET_CRC_SCALAR,
	[V_CRC_DPDK_SSE42] = RTE_NET_CRC_SSE42,
	[V_CRC_DPDK_AVX512] = RTE_NET_CRC_AVX512,
};
#endif

#ifdef HAVE_DPDK
static uint32_t dpdk_crc_fn(const uint8_t *p, size_t len)
{
	return rte_net_crc_calc(p, (uint32_t)len, RTE_NET_CRC32_ETH);
}

static enum rte_net_crc_alg dpdk_best(void)
{
	return var[V_CRC_DPDK_AVX512].enabled ? RTE_NET_CRC_AVX512 :
	       var[V_CRC_DPDK_SSE42].enabled  ? RTE_NET_CRC_SSE42 :
						RTE_NET_CRC_SCALAR;
}
#endif

static void run_one(int v, unsigned iters, double *ns, double *cyc)
{
	uint8_t out[STUN_MAX_MSG];
	uint32_t acc = 0;

#ifdef HAVE_DPDK
	if (v >= V_CRC_DPDK_SCALAR && v <= V_CRC_DPDK_AVX512)
		rte_net_crc_set_alg(dpdk_alg[v]);
	/* the codec's CRC hook, as the dataplane will set it */
	if (v == V_EXCHANGE_DPDK) {
		rte_net_crc_set_alg(dpdk_best());
		stun_set_crc32(dpdk_crc_fn);
	}
#endif
	double t0 = now_ns();
	uint64_t c0 = tsc();

	for (unsigned i = 0; i < iters; i++) {
		switch (v) {
		case V_ONESHOT: hmac_oneshot(out); break;
		case V_EVP_INIT: hmac_evp_mac_init(out); break;
		case V_EVP_DUP: hmac_evp_mac_dup(out); break;
		case V_HMAC_COPY: hmac_ctx_copy(out); break;
		case V_HMAC_REINIT: hmac_ctx_reinit(out); break;
		case V_ICEGW: hmac_icegw(out); break;
		case V_CRC_ZLIB: out[0] = (uint8_t)crc_zlib(); break;
#ifdef HAVE_DPDK
		case V_CRC_DPDK_SCALAR:
		case V_CRC_DPDK_SSE42:
		case V_CRC_DPDK_AVX512: out[0] = (uint8_t)crc_dpdk(); break;
#endif
		case V_EXCHANGE:
		case V_EXCHANGE_DPDK: out[0] = (uint8_t)binding_exchange(out); break;
		default: break;
		}
		acc += out[0];
	}
	*cyc = (double)(tsc() - c0) / iters;
	*ns = (now_ns() - t0) / iters;
	sink += acc;
	stun_set_crc32(NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
	double tmp[64];
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* Every variant must produce the same bytes, or its timing means nothing. */
static int check_agreement(void)
{
	uint8_t ref[20], out[20];
	int bad = 0;

	hmac_icegw(ref);
	if (memcmp(ref, req + req_msg.mi_off + 4, 20) != 0) {
		fprintf(stderr, "MISMATCH: stun_hmac_sha1 vs the MESSAGE-INTEGRITY built\n");
		bad = 1;
	}
	for (int v = V_ONESHOT; v < V_ICEGW; v++) {
		memset(out, 0, sizeof(out));
		switch (v) {
		case V_ONESHOT: hmac_oneshot(out); break;
		case V_EVP_INIT: hmac_evp_mac_init(out); break;
		case V_EVP_DUP: hmac_evp_mac_dup(out); break;
		case V_HMAC_COPY: hmac_ctx_copy(out); break;
		case V_HMAC_REINIT: hmac_ctx_reinit(out); break;
		}
		if (memcmp(out, ref, 20) != 0) {
			fprintf(stderr, "MISMATCH: %s disagrees with stun_hmac_sha1\n", var[v].name);
			bad = 1;
		}
	}
	uint32_t fp = ((uint32_t)req[req_msg.fp_off + 4] << 24) |
		      ((uint32_t)req[req_msg.fp_off + 5] << 16) |
		      ((uint32_t)req[req_msg.fp_off + 6] << 8) | req[req_msg.fp_off + 7];
	if ((crc_zlib() ^ STUN_FP_XOR) != fp) {
		fprintf(stderr, "MISMATCH: zlib crc32 vs the FINGERPRINT built\n");
		bad = 1;
	}
#ifdef HAVE_DPDK
	for (int v = V_CRC_DPDK_SCALAR; v <= V_CRC_DPDK_AVX512; v++) {
		if (!var[v].enabled)
			continue;
		rte_net_crc_set_alg(dpdk_alg[v]);
		if (crc_dpdk() != crc_zlib()) {
			fprintf(stderr, "MISMATCH: %s 0x%08x, zlib 0x%08x\n", var[v].name,
				crc_dpdk(), crc_zlib());
			bad = 1;
		}
	}
#endif
	for (int v = V_EXCHANGE; v <= V_EXCHANGE_DPDK; v++) {
		uint8_t resp[STUN_MAX_MSG];
		struct stun_msg rm;
		struct ice_addr got;
		int rl;

		if (!var[v].enabled)
			continue;
#ifdef HAVE_DPDK
		if (v == V_EXCHANGE_DPDK) {
			rte_net_crc_set_alg(dpdk_best());
			stun_set_crc32(dpdk_crc_fn);
		}
#endif
		rl = binding_exchange(resp);
		stun_set_crc32(NULL); /* verify with zlib: the two CRCs must agree */
		if (rl < 0 || stun_parse(&rm, resp, (size_t)rl, 0) != 0 ||
		    stun_msg_check_integrity(&rm, &key, STUN_MI_RFC) != 0 ||
		    stun_msg_get_addr(&rm, STUN_A_XOR_MAPPED_ADDRESS, &got) != 0 ||
		    !ice_addr_eq(&got, &peer)) {
			fprintf(stderr, "MISMATCH: %s: the Binding response does not verify\n",
				var[v].name);
			bad = 1;
		}
	}
	return bad;
}

#ifdef HAVE_DPDK
static int dpdk_setup(void)
{
	/* rte_net_crc picks SIMD only within the EAL's SIMD limit (256 bits unless raised),
	 * so a minimal EAL is needed */
	char *eal_argv[] = {(char *)"bench_stun", (char *)"-l", (char *)"0", (char *)"--no-huge",
			    (char *)"--no-pci", (char *)"--no-shconf", (char *)"--log-level=1",
			    (char *)"--no-telemetry", (char *)"--force-max-simd-bitwidth=512", NULL};
	return rte_eal_init(9, eal_argv) < 0 ? -1 : 0;
}
#endif

int main(int argc, char **argv)
{
	unsigned rounds = 15, iters = 20000;
	int c;

	/* before any OpenSSL call, so every allocation it makes is seen */
	CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
	while ((c = getopt(argc, argv, "qr:n:h")) != -1) {
		switch (c) {
		case 'q':
			rounds = 3;
			iters = 200;
			break;
		case 'r':
			rounds = (unsigned)atoi(optarg);
			break;
		case 'n':
			iters = (unsigned)atoi(optarg);
			break;
		default:
			printf("usage: bench_stun [-q] [-r ROUNDS] [-n ITERS]\n"
			       "  -q  quick smoke run (3 rounds of 200)\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (rounds < 1 || rounds > 64 || iters < 1) {
		fprintf(stderr, "bench_stun: rounds 1..64, iters >= 1\n");
		return 2;
	}

	make_request();
	hmac_setup();
	ice_addr_parse(&peer, "192.0.2.10:50000");
#ifdef HAVE_DPDK
	if (dpdk_setup() < 0) {
		printf("DPDK EAL init failed: rte_net_crc not measured\n");
	} else {
		/* rte_net_crc_set_alg silently falls back, so only measure what the CPU has */
		var[V_CRC_DPDK_SCALAR].enabled = 1;
		var[V_CRC_DPDK_SSE42].enabled = __builtin_cpu_supports("sse4.2") &&
						__builtin_cpu_supports("pclmul");
		var[V_CRC_DPDK_AVX512].enabled = __builtin_cpu_supports("avx512f") &&
						 __builtin_cpu_supports("vpclmulqdq");
		var[V_EXCHANGE_DPDK].enabled = 1;
	}
#endif
	if (check_agreement())
		return 1;

	printf("message: ICE Binding request, %zu bytes (HMAC over %zu, CRC over %zu)\n", req_len,
	       signed_len, crc_len);
	printf("%u rounds x %u ops, variants interleaved each round; median of rounds\n\n", rounds,
	       iters);
	/* warm caches and lazily initialised OpenSSL state before counting anything */
	for (int v = 0; v < V_N; v++) {
		double ns, cy;
		if (var[v].enabled)
			run_one(v, iters < 1000 ? iters : 1000, &ns, &cy);
	}
	for (unsigned r = 0; r < rounds; r++) {
		for (int v = 0; v < V_N; v++) {
			if (!var[v].enabled)
				continue;
			unsigned long a0 = n_alloc;
			run_one(v, iters, &var[v].ns[r], &var[v].cyc[r]);
			if (r == 0)
				var[v].allocs = (double)(n_alloc - a0) / iters;
		}
	}

	const char *groups[] = {"hmac", "crc", "exchange"};
	for (unsigned gi = 0; gi < 3; gi++) {
		double best = 0;
		for (int v = 0; v < V_N; v++)
			if (var[v].enabled && !strcmp(var[v].group, groups[gi])) {
				double m = median(var[v].ns, rounds);
				if (best == 0 || m < best)
					best = m;
			}
		printf("%-34s %9s %9s %8s %10s\n", groups[gi], "ns/op", "TSC/op", "x best",
		       "allocs/op");
		for (int v = 0; v < V_N; v++) {
			if (!var[v].enabled || strcmp(var[v].group, groups[gi]))
				continue;
			double m = median(var[v].ns, rounds);
			printf("  %-32s %9.1f %9.0f %8.2f %10.1f\n", var[v].name, m,
			       median(var[v].cyc, rounds), m / best, var[v].allocs);
		}
		printf("\n");
	}
	double ex = median(var[V_EXCHANGE].ns, rounds), mi = median(var[V_ICEGW].ns, rounds);
	printf("exchange / one stun_hmac_sha1: %.2f (the exchange computes two MACs)\n", ex / mi);
	return 0;
}
