/* The ICE agent's own costs, side by side in one run: agents created per second, and
 * connectivity checks answered per second against the HMAC + CRC work they must do. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ice_agent.h"

static uint64_t ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xs(void *ctx)
{
	uint64_t *s = ctx, x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t rng_state = 88172645463325252ull;

static void make_agent(struct ice_agent *a, int i)
{
	struct ice_config cfg;
	struct ice_addr l, r;
	struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .prio = 2130706431,
				     .foundation = "1"};

	memset(&cfg, 0, sizeof(cfg));
	cfg.dialect = ICE_DIALECT_RFC8445;
	cfg.role = ICE_ROLE_CONTROLLED;
	cfg.ncomp = 1;
	cfg.ufrag = "gwuf";
	cfg.pwd = "gatewaypasswordgatewayp";
	cfg.rng = xs;
	cfg.rng_ctx = &rng_state;
	ice_addr_set_v4(&l, 0xcb007101, (uint16_t)(20000 + (i & 0x3fff) * 2));
	ice_addr_set_v4(&r, 0xc000020a, 40000);
	rc.addr = r;
	if (ice_agent_init(a, &cfg) || ice_agent_add_local(a, 1, ICE_CAND_HOST, &l, -1, 65535) < 0 ||
	    ice_agent_set_remote_credentials(a, "peer", "peerpasswordpeerpasswor") ||
	    ice_agent_add_remote(a, 0, &rc) < 0 || ice_agent_start(a, 0)) {
		fprintf(stderr, "bench_agent: agent set-up failed\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	unsigned n_agents = 20000, n_checks = 200000, rounds = 11;
	bool quick = false;
	int c;
	struct ice_agent *agents;
	uint64_t create_ns[64], check_ns[64], base_ns[64];
	uint8_t req[256], rbuf[256];
	int rlen;

	while ((c = getopt(argc, argv, "qn:c:r:")) != -1) {
		switch (c) {
		case 'q': quick = true; break;
		case 'n': n_agents = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'c': n_checks = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: bench_agent [-q] [-n AGENTS] [-c CHECKS] [-r ROUNDS]\n");
			return 64;
		}
	}
	if (quick) {
		n_agents = 200;
		n_checks = 2000;
		rounds = 3;
	}
	if (rounds > 64 || !n_agents || !n_checks) {
		fprintf(stderr, "bench_agent: bad arguments\n");
		return 64;
	}
	agents = calloc(n_agents, sizeof(*agents));
	if (!agents)
		return 1;

	/* the check a controlling peer sends to agent 0 */
	{
		struct stun_builder b;
		struct stun_key k;
		static const uint8_t tid[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
		stun_key_init(&k, "gatewaypasswordgatewayp", 23);
		stun_build_init(&b, req, sizeof(req), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
		stun_build_attr(&b, ICE_A_USE_CANDIDATE, NULL, 0);
		stun_build_u32(&b, ICE_A_PRIORITY, 1853824767);
		stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 0x1234567890abcdefull);
		stun_build_str(&b, STUN_A_USERNAME, "gwuf:peer");
		stun_build_integrity(&b, &k, STUN_MI_RFC);
		stun_build_fingerprint(&b, false);
		rlen = stun_build_finish(&b);
	}

	for (unsigned r = 0; r < rounds; r++) {
		uint64_t t0 = ns_now();
		for (unsigned i = 0; i < n_agents; i++)
			make_agent(&agents[i], (int)i);
		create_ns[r] = ns_now() - t0;

		/* one agent answers the same check over and over (the dataplane's per-packet
		 * work for STUN), with a correctness check on the first answer */
		{
			struct ice_agent *a = &agents[0];
			struct ice_addr l = a->local[0].addr, from;
			struct ice_out reply = {.buf = rbuf, .cap = sizeof(rbuf)};
			ice_addr_set_v4(&from, 0xc000020a, 40000);
			if (ice_agent_recv(a, 1000, &l, &from, req, (size_t)rlen, &reply) != ICE_RX_REPLIED) {
				fprintf(stderr, "bench_agent: the check was not answered\n");
				return 1;
			}
			{
				struct stun_msg m;
				struct stun_key k;
				stun_key_init(&k, "gatewaypasswordgatewayp", 23);
				if (stun_parse(&m, rbuf, reply.len, 0) || m.cls != STUN_C_SUCCESS ||
				    stun_msg_check_integrity(&m, &k, STUN_MI_RFC)) {
					fprintf(stderr, "bench_agent: the answer does not verify\n");
					return 1;
				}
			}
			t0 = ns_now();
			for (unsigned i = 0; i < n_checks; i++)
				ice_agent_recv(a, 2000 + i, &l, &from, req, (size_t)rlen, &reply);
			check_ns[r] = ns_now() - t0;
		}
		/* the same run's floor: what any answer must compute (2 HMAC-SHA1, 2 CRC-32) */
		{
			struct stun_key k;
			uint8_t mac[20];
			volatile uint32_t sink = 0;
			stun_key_init(&k, "gatewaypasswordgatewayp", 23);
			t0 = ns_now();
			for (unsigned i = 0; i < n_checks; i++) {
				stun_hmac_sha1(&k, req, (size_t)rlen - 32, NULL, 0, NULL, 0, mac);
				sink += stun_crc32(req, (size_t)rlen - 8);
				stun_hmac_sha1(&k, rbuf, 48, NULL, 0, NULL, 0, mac);
				sink += stun_crc32(rbuf, 60) + mac[0];
			}
			base_ns[r] = ns_now() - t0;
			(void)sink;
		}
	}
	qsort(create_ns, rounds, sizeof(uint64_t), cmp_u64);
	qsort(check_ns, rounds, sizeof(uint64_t), cmp_u64);
	qsort(base_ns, rounds, sizeof(uint64_t), cmp_u64);
	{
		double cr = (double)create_ns[rounds / 2] / n_agents;
		double ck = (double)check_ns[rounds / 2] / n_checks;
		double bs = (double)base_ns[rounds / 2] / n_checks;
		printf("sizeof(struct ice_agent) = %zu bytes (aim <= 4096)\n", sizeof(struct ice_agent));
		printf("agents created and started: %.0f ns each, %.0f per second per core (%u per round)\n",
		       cr, 1e9 / cr, n_agents);
		printf("checks answered (parse, verify, role, pair, answer + MI + FP): %.0f ns each, "
		       "%.2f M/s per core\n", ck, 1e3 / ck);
		printf("floor in the same run (2 HMAC-SHA1 + 2 CRC-32): %.0f ns; agent / floor = %.2f\n",
		       bs, ck / bs);
		printf("median of %u rounds\n", rounds);
	}
	free(agents);
	return 0;
}
