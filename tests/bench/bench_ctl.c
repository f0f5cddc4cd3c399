/* Call set-up rate and memory per call of the session manager at scale: real NG offer and
 * answer datagrams through ctl_handle() onto a dp_core that applies the commands at once. */
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "ctl_session.h"
#include "dp_cmd.h"
#include "ng_bencode.h"
#include "ng_proto.h"

#define GW_IP 0xcb007101u        /* 203.0.113.1 */
#define FIRST_PORT 1024
/* one call = two legs (one per side) of an RTP/RTCP port pair each = 4 ports; the port map
 * of a core is keyed by UDP port alone, so one gateway address holds this many calls */
#define PORTS_PER_CALL 4
#define MAX_CALLS_ONE_ADDR ((65536 - FIRST_PORT) / PORTS_PER_CALL)
/* with rtcp-mux on both sides a leg takes one port: two per call (-m) */
#define PORTS_PER_CALL_MUX 2
#define MAX_IFACES 8

static unsigned ports_per_call = PORTS_PER_CALL;
static unsigned n_ifaces = 1;
#define EXHAUST_TRIES 2000

static uint64_t tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS of this process in KiB, from /proc/self/status. */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

/* The worker, synchronously: what dp_main's worker does between bursts, timed apart. */
struct backend {
	struct dp_core core;
	bool no_core;             /* -i > 1: commands counted, not applied (see usage) */
	uint64_t apply_tsc;
	uint64_t cmds, failed;
	uint64_t creates, deletes;
};

static uint64_t live_legs(const struct backend *b)
{
	return b->no_core ? b->creates - b->deletes : b->core.active;
}

static int be_submit(void *ctx, unsigned w, struct dp_cmd *cmd)
{
	struct backend *b = ctx;
	uint64_t t0 = tsc();

	(void)w;
	b->creates += cmd->type == DP_CMD_CREATE;
	b->deletes += cmd->type == DP_CMD_DELETE;
	if (!b->no_core)
		dp_cmd_apply(&b->core, cmd, 1000000);
	b->apply_tsc += tsc() - t0;
	b->cmds++;
	if (cmd->result < 0)
		b->failed++;
	free(cmd);
	return 0;
}

static const struct dp_leg *be_view(void *ctx, unsigned w, uint32_t slot)
{
	struct backend *b = ctx;

	(void)w;
	if (b->no_core)
		return NULL;
	return slot < b->core.nlegs ? &b->core.legs[slot] : NULL;
}

static void emit_none(void *ctx, const uint8_t *frame, uint16_t len)
{
	(void)ctx;
	(void)frame;
	(void)len;
}

/* What a softphone behind Kamailio offers: ICE with a host and a server-reflexive candidate
 * per component, RTCP on its own port. */
static int offer_sdp(char *out, size_t cap, unsigned i)
{
	unsigned h = 10 + i % 200, p = 20000 + 2 * (i % 20000);

	return snprintf(out, cap,
		"v=0\r\n"
		"o=- %u 1 IN IP4 192.168.%u.%u\r\n"
		"s=-\r\n"
		"c=IN IP4 198.51.100.%u\r\n"
		"t=0 0\r\n"
		"m=audio %u RTP/AVP 0 8 101\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-16\r\n"
		"a=ptime:20\r\n"
		"a=ice-ufrag:a%07u\r\n"
		"a=ice-pwd:alicepassword%011u\r\n"
		"a=candidate:1 1 UDP 2130706431 192.168.%u.%u %u typ host\r\n"
		"a=candidate:2 1 UDP 1694498815 198.51.100.%u %u typ srflx raddr 192.168.%u.%u rport %u\r\n"
		"a=candidate:1 2 UDP 2130706430 192.168.%u.%u %u typ host\r\n"
		"a=candidate:2 2 UDP 1694498814 198.51.100.%u %u typ srflx raddr 192.168.%u.%u rport %u\r\n"
		"a=rtcp:%u\r\n"
		"%s"
		"a=sendrecv\r\n",
		i, i / 250 % 250, h, h, p, i, i,
		i / 250 % 250, h, p, h, p, i / 250 % 250, h, p,
		i / 250 % 250, h, p + 1, h, p + 1, i / 250 % 250, h, p + 1, p + 1,
		ports_per_call == PORTS_PER_CALL_MUX ? "a=rtcp-mux\r\n" : "");
}

static int answer_sdp(char *out, size_t cap, unsigned i)
{
	unsigned h = 10 + i % 200, p = 40000 + 2 * (i % 10000);

	return snprintf(out, cap,
		"v=0\r\n"
		"o=- %u 1 IN IP4 10.20.%u.%u\r\n"
		"s=-\r\n"
		"c=IN IP4 192.0.2.%u\r\n"
		"t=0 0\r\n"
		"m=audio %u RTP/AVP 0 101\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-16\r\n"
		"a=ptime:20\r\n"
		"a=ice-ufrag:b%07u\r\n"
		"a=ice-pwd:bobpassword%013u\r\n"
		"a=candidate:1 1 UDP 2130706431 10.20.%u.%u %u typ host\r\n"
		"a=candidate:2 1 UDP 1694498815 192.0.2.%u %u typ srflx raddr 10.20.%u.%u rport %u\r\n"
		"a=candidate:1 2 UDP 2130706430 10.20.%u.%u %u typ host\r\n"
		"a=candidate:2 2 UDP 1694498814 192.0.2.%u %u typ srflx raddr 10.20.%u.%u rport %u\r\n"
		"a=rtcp:%u\r\n"
		"%s"
		"a=sendrecv\r\n",
		i, i / 250 % 250, h, h, p, i, i,
		i / 250 % 250, h, p, h, p, i / 250 % 250, h, p,
		i / 250 % 250, h, p + 1, h, p + 1, i / 250 % 250, h, p + 1, p + 1,
		ports_per_call == PORTS_PER_CALL_MUX ? "a=rtcp-mux\r\n" : "");
}

/* A request as Kamailio's rtpengine module sends it (keys in bencode order). */
static size_t ng_msg(char *out, size_t cap, unsigned cookie, const char *cmd, unsigned call,
		     bool from, bool to, const char *sdp)
{
	char id[64];
	int n, idl = snprintf(id, sizeof(id), "%08x-%u@pbx.example.net", call * 2654435761u, call);

	n = snprintf(out, cap, "%u_%u d", 4242, cookie);
	if (sdp)
		n += snprintf(out + n, cap - (size_t)n, "3:ICE5:force");
	n += snprintf(out + n, cap - (size_t)n, "7:call-id%d:%s", idl, id);
	n += snprintf(out + n, cap - (size_t)n, "7:command%zu:%s", strlen(cmd), cmd);
	if (sdp && n_ifaces > 1 && !to) /* both legs of call i on interface i % n */
		n += snprintf(out + n, cap - (size_t)n, "9:directionl3:if%u3:if%ue", call % n_ifaces,
			      call % n_ifaces);
	if (sdp)
		n += snprintf(out + n, cap - (size_t)n, "5:flagsl13:trust-addresse");
	if (from)
		n += snprintf(out + n, cap - (size_t)n, "8:from-tag10:%010u", call);
	if (sdp)
		n += snprintf(out + n, cap - (size_t)n, "7:replacel6:origin18:session-connectione"
			      "3:sdp%zu:%s", strlen(sdp), sdp);
	if (to)
		n += snprintf(out + n, cap - (size_t)n, "6:to-tag10:%010u", ~call);
	if (sdp)
		n += snprintf(out + n, cap - (size_t)n, "10:via-branch15:z9hG4bK%08x", call);
	n += snprintf(out + n, cap - (size_t)n, "e");
	return (size_t)n;
}

/* "result" of a reply, or NULL when it does not parse. */
static struct ng_benc_node nodes[NG_NODES_MAX];
static bool reply_is(const char *buf, size_t len, const char *want, const char *reason_has)
{
	struct ng_benc_doc d;
	const struct ng_benc_node *res, *why;
	const char *sp = memchr(buf, ' ', len);

	if (!sp)
		return false;
	ng_benc_init(&d, nodes, NG_NODES_MAX);
	if (ng_benc_parse(&d, sp + 1, len - (size_t)(sp + 1 - buf)) != 0)
		return false;
	res = ng_benc_dict_get(&d, ng_benc_at(&d, 0), "result");
	if (!res || res->len != strlen(want) || memcmp(res->str, want, res->len))
		return false;
	if (!reason_has)
		return true;
	why = ng_benc_dict_get(&d, ng_benc_at(&d, 0), "error-reason");
	return why && memmem(why->str, why->len, reason_has, strlen(reason_has));
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_ctl [-q] [-n calls] [-r rounds] [-F] [-m] [-i interfaces]\n"
		"  -n  concurrent calls (default 10000; one gateway address holds %u, %u with -m)\n"
		"  -m  rtcp-mux on both sides: one port per leg\n"
		"  -i  N media interfaces (2..8, addresses 203.0.113.1..), call i on interface i %% N\n"
		"      through NG direction; the dataplane here keys legs by port alone, so with\n"
		"      N > 1 commands are counted, not applied: control-plane figures only\n"
		"  -r  set-up / delete rounds on the same manager (default 2: memory must come back)\n"
		"  -F  do not prefault the dataplane's leg array (by default it is touched first,\n"
		"      as rte_zmalloc_socket zeroes it in the daemon, so RSS deltas are the control's)\n"
		"  -q  smoke run: 500 calls, assert correctness only\n", MAX_CALLS_ONE_ADDR, (65536 - FIRST_PORT) / PORTS_PER_CALL_MUX);
}

#define CHECK(cond, ...)                                                                        \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "bench_ctl: " __VA_ARGS__);                             \
			fputc('\n', stderr);                                                    \
			exit(1);                                                                \
		}                                                                               \
	} while (0)

int main(int argc, char **argv)
{
	static char msg[16384], out[65536], sdp[4096];
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	unsigned ncalls = 10000, rounds = 2, cookie = 1;
	bool quiet = false, prefault = true;
	struct backend be;
	struct ctl *ctl;
	int opt;

	while ((opt = getopt(argc, argv, "qn:r:Fmi:h")) != -1) {
		switch (opt) {
		case 'q': quiet = true; ncalls = 500; rounds = 2; break;
		case 'n': ncalls = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'F': prefault = false; break;
		case 'm': ports_per_call = PORTS_PER_CALL_MUX; break;
		case 'i': n_ifaces = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage(); return opt == 'h' ? 0 : 2;
		}
	}
	if (ncalls == 0 || rounds == 0 || n_ifaces == 0 || n_ifaces > MAX_IFACES) {
		usage();
		return 2;
	}
	unsigned per_addr = (65536 - FIRST_PORT) / ports_per_call;
	ncalls -= ncalls % n_ifaces; /* each interface's pool holds exactly its share */
	if (ncalls / n_ifaces > per_addr) {
		printf("%u calls need %u ports: %u gateway address(es) have %u each (ports %u-65535, "
		       "%u per call); running %u\n", ncalls, ncalls * ports_per_call, n_ifaces,
		       65536 - FIRST_PORT, FIRST_PORT, ports_per_call, per_addr * n_ifaces);
		ncalls = per_addr * n_ifaces;
	}

	long rss_start = rss_kib();
	memset(&be, 0, sizeof(be));
	be.no_core = n_ifaces > 1;
	if (!be.no_core) {
		CHECK(dp_core_init(&be.core, GW_IP, mac, 2 * ncalls, 1, calloc, 1000000) == 0,
		      "cannot allocate %u legs", 2 * ncalls);
		be.core.emit = emit_none;
	}
	if (prefault && !be.no_core)
		memset(be.core.legs, 0, (size_t)2 * ncalls * sizeof(struct dp_leg));
	/* the port range holds exactly ncalls: the next offer meets the exhaustion path */
	struct ctl_cfg cfg = {
		.local_ip = GW_IP, .port_min = FIRST_PORT,
		.port_max = (uint16_t)(FIRST_PORT + ncalls / n_ifaces * ports_per_call - 1),
		.max_sessions = 2 * ncalls, .nworkers = 1, .slots_per_worker = 2 * ncalls, .seed = 9,
	};
	if (n_ifaces > 1) {
		cfg.local_ip = 0;
		cfg.n_iface = n_ifaces;
		for (unsigned k = 0; k < n_ifaces; k++) {
			snprintf(cfg.iface[k].name, sizeof(cfg.iface[k].name), "if%u", k);
			cfg.iface[k].local_ip = GW_IP + k;
		}
	}
	struct ctl_backend cb = {.submit = be_submit, .view = be_view, .ctx = &be};
	CHECK((ctl = ctl_new(&cfg, &cb)) != NULL, "ctl_new failed");
	long rss_base = rss_kib();
	size_t mem_base = ctl_memory(ctl);
	size_t mem_del0 = 0;
	unsigned *order = malloc(ncalls * sizeof(*order));
	CHECK(order, "no memory");

	if (!quiet && be.no_core)
		printf("bench_ctl: %u calls (%u legs) on %u interfaces, %u ports per call: control "
		       "plane only (commands counted, not applied)\n", ncalls, 2 * ncalls, n_ifaces,
		       ports_per_call);
	else if (!quiet)
		printf("bench_ctl: %u calls (%u legs), struct dp_leg %zu B, struct dp_cmd %zu B, "
		       "dataplane preallocated %.1f MiB (%s)\n", ncalls, 2 * ncalls,
		       sizeof(struct dp_leg), sizeof(struct dp_cmd),
		       (double)2 * ncalls * sizeof(struct dp_leg) / 1048576,
		       prefault ? "prefaulted" : "not prefaulted");
	for (unsigned round = 0; round < rounds; round++) {
		uint64_t t_ctl = 0, t_apply0 = be.apply_tsc, t_err = 0, t_q = 0, t_del = 0;
		uint64_t cmds0 = be.cmds;
		size_t msg_bytes = 0;
		double w0 = now_s(), w_setup, w_err;
		uint64_t tsc0 = tsc(), tsc_setup;
		unsigned legs_running = 0;

		/* offer + answer for every call */
		for (unsigned i = 0; i < ncalls; i++) {
			size_t n, r;
			uint64_t t0;

			offer_sdp(sdp, sizeof(sdp), i);
			n = ng_msg(msg, sizeof(msg), cookie++, "offer", i, true, false, sdp);
			msg_bytes += n;
			t0 = tsc();
			r = ctl_handle(ctl, msg, n, out, sizeof(out), 1000);
			t_ctl += tsc() - t0;
			CHECK(r && reply_is(out, r, "ok", NULL), "offer %u refused: %.*s", i, (int)r, out);
			answer_sdp(sdp, sizeof(sdp), i);
			n = ng_msg(msg, sizeof(msg), cookie++, "answer", i, true, true, sdp);
			msg_bytes += n;
			t0 = tsc();
			r = ctl_handle(ctl, msg, n, out, sizeof(out), 1000);
			t_ctl += tsc() - t0;
			CHECK(r && reply_is(out, r, "ok", NULL), "answer %u refused: %.*s", i, (int)r, out);
		}
		w_setup = now_s() - w0;
		tsc_setup = tsc() - tsc0;
		uint64_t t_apply = be.apply_tsc - t_apply0;
		long rss_up = rss_kib();
		size_t mem_up = ctl_memory(ctl);
		CHECK(ctl_stats(ctl)->calls == ncalls && live_legs(&be) == 2ull * ncalls && be.failed == 0,
		      "after set-up: %u calls, %u legs, %" PRIu64 " failed commands",
		      ctl_stats(ctl)->calls, (unsigned)live_legs(&be), be.failed);
		for (uint32_t s = 0; !be.no_core && s < be.core.nlegs; s++)
			legs_running += ice_agent_state(&be.core.legs[s].agent) == ICE_STATE_RUNNING;

		/* the ports are all taken: further offers are refused at once */
		double we0 = now_s();
		for (unsigned i = 0; i < EXHAUST_TRIES; i++) {
			size_t n, r;
			uint64_t t0;

			offer_sdp(sdp, sizeof(sdp), ncalls + i);
			n = ng_msg(msg, sizeof(msg), cookie++, "offer", ncalls + i, true, false, sdp);
			t0 = tsc();
			r = ctl_handle(ctl, msg, n, out, sizeof(out), 1000);
			t_err += tsc() - t0;
			/* rtpengine's exact text, which Kamailio compares to try its next gateway */
			CHECK(r && reply_is(out, r, "error", "Ran out of ports"),
			      "offer beyond the port range: %.*s", (int)r, out);
		}
		w_err = now_s() - we0;
		CHECK(ctl_stats(ctl)->calls == ncalls && live_legs(&be) == 2ull * ncalls,
		      "a refused offer left state behind");

		/* query a sample of 1 in 100 */
		unsigned nq = 0;
		for (unsigned i = 0; i < ncalls; i += 100) {
			size_t n = ng_msg(msg, sizeof(msg), cookie++, "query", i, false, false, NULL), r;
			uint64_t t0 = tsc();

			r = ctl_handle(ctl, msg, n, out, sizeof(out), 2000);
			t_q += tsc() - t0;
			CHECK(r && reply_is(out, r, "ok", NULL) &&
			      (be.no_core || memmem(out, r, "3:ICE7:running", 14)),
			      "query %u: %.*s", i, (int)r, out);
			nq++;
		}

		/* delete all, in an order unrelated to set-up (calls end when they end) */
		for (unsigned i = 0; i < ncalls; i++)
			order[i] = i;
		for (unsigned i = ncalls; i-- > 1;) {
			unsigned j = (unsigned)(((uint64_t)i * 2654435761u + round * 40503u) % (i + 1));
			unsigned t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		double wd0 = now_s();
		for (unsigned i = 0; i < ncalls; i++) {
			size_t n = ng_msg(msg, sizeof(msg), cookie++, "delete", order[i], true, false, NULL), r;
			uint64_t t0 = tsc();

			r = ctl_handle(ctl, msg, n, out, sizeof(out), 3000);
			t_del += tsc() - t0;
			CHECK(r && reply_is(out, r, "ok", NULL), "delete %u: %.*s", order[i], (int)r, out);
		}
		double w_del = now_s() - wd0;
		long rss_del = rss_kib();
		size_t mem_del = ctl_memory(ctl);
		CHECK(ctl_stats(ctl)->calls == 0 && live_legs(&be) == 0 && be.failed == 0,
		      "after delete: %u calls, %u legs", ctl_stats(ctl)->calls, (unsigned)live_legs(&be));
		/* what stays is the reply cache: the last CACHE_ENTRIES replies, bounded */
		CHECK(mem_del - mem_base <= (16u << 20), "control memory not back after delete: "
		      "%zu over base", mem_del - mem_base);
		if (round == 0)
			mem_del0 = mem_del;
		malloc_trim(0);
		long rss_trim = rss_kib();

		if (quiet)
			continue;
		double hz = (double)tsc_setup / w_setup; /* TSC ticks per second, from this phase */
		double per_call = (double)t_ctl / ncalls;
		printf("\nround %u\n", round + 1);
		printf("  set-up: %u offers + %u answers in %.3f s = %.0f calls/s (%.0f NG commands/s), "
		       "%.0f B of NG per call\n", ncalls, ncalls, w_setup, ncalls / w_setup,
		       2 * ncalls / w_setup, (double)msg_bytes / ncalls);
		printf("    in ctl_handle per call %.0f TSC = %.1f us (the rest is this program "
		       "writing the datagrams): control %.0f TSC (%.0f %%), dataplane command "
		       "application %.0f TSC (%.0f %%, %.1f commands)\n",
		       per_call, per_call / hz * 1e6, (double)(t_ctl - t_apply) / ncalls,
		       100.0 * (double)(t_ctl - t_apply) / (double)t_ctl, (double)t_apply / ncalls,
		       100.0 * (double)t_apply / (double)t_ctl, (double)(be.cmds - cmds0) / ncalls);
		printf("    legs with ICE running: %u of %u\n", legs_running, 2 * ncalls);
		printf("  exhausted: %u offers refused \"Ran out of ports\", %.2f us each "
		       "(%.0f refusals/s)\n", EXHAUST_TRIES, (double)t_err / EXHAUST_TRIES / hz * 1e6,
		       EXHAUST_TRIES / w_err);
		printf("  query: %u sampled, %.2f us each\n", nq, (double)t_q / nq / hz * 1e6);
		printf("  delete: %u in %.3f s = %.0f deletes/s, %.2f us each\n", ncalls, w_del,
		       ncalls / w_del, (double)t_del / ncalls / hz * 1e6);
		printf("  memory: ctl_memory base %.2f MiB, set up +%.0f B per call (calls + reply "
		       "cache), after delete +%.2f MiB (the reply cache alone; round 1: +%.2f MiB)\n",
		       (double)mem_base / 1048576, (double)(mem_up - mem_base) / ncalls,
		       (double)(mem_del - mem_base) / 1048576, (double)(mem_del0 - mem_base) / 1048576);
		printf("          VmRSS start %ld KiB, after init %ld KiB, set up %ld KiB "
		       "(+%.0f B per call over init), after delete %ld KiB (+%.0f B per call "
		       "still held), after malloc_trim %ld KiB\n",
		       rss_start, rss_base, rss_up, (double)(rss_up - rss_base) * 1024 / ncalls,
		       rss_del, (double)(rss_del - rss_base) * 1024 / ncalls, rss_trim);
	}
	const struct ctl_stats *st = ctl_stats(ctl);
	CHECK(st->port_exhausted == (uint64_t)EXHAUST_TRIES * rounds, "port_exhausted %" PRIu64,
	      st->port_exhausted);
	if (quiet)
		printf("bench_ctl: %u calls x %u rounds set up, queried, refused past the port range "
		       "and deleted; memory back to base\n", ncalls, rounds);
	ctl_free(ctl);
	dp_core_free(&be.core, free);
	free(order);
	return 0;
}
