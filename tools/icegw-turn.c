/* icegw-turn: N TURN allocations (ice/turn.h) on kernel UDP sockets, one socket each, for
 * interop and load tests against a real TURN server: allocate, relay data, refresh, release. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ice_warn.h"
#include "turn.h"
#include "sockaddr_ice.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,     /* some allocation failed: ICEWarn printed */
	EXIT_TIMEOUT = 2,
	EXIT_USAGE = 64,
	EXIT_SYSTEM = 71,
};

#define MAX_COUNT 5000
#define DATA_INTERVAL_US 20000
#define LINGER_US 1000000    /* keep sending after our quota so the other side can finish */
#define PEER_WAIT_US 10000000

static const char usage_text[] =
	"usage: icegw-turn --server IP:PORT --user U --pass P [--count N] [--bind IP]\n"
	"                  [--peer IP:PORT | --peer-file FILE] [--relay-file FILE] [--channel]\n"
	"                  [--send N] [--refresh] [--lifetime S] [--rto-ms MS] [--timeout S]\n"
	"                  [--ms-turn] [--seed N] [--verbose]\n"
	"Allocates N relays (one UDP socket each); with a peer, installs a permission (and with\n"
	"--channel a channel) on the first allocation and exchanges N datagrams with the peer;\n"
	"with --refresh refreshes every allocation once; then releases all and prints a summary.\n"
	"Exit: 0 success, 1 failure (ICEWarn printed), 2 timeout, 64 usage, 71 system error.\n";

struct client {
	struct turn_alloc a;
	int fd;
	bool allocated, refreshed, released, failed;
};

struct run {
	struct client *c;
	unsigned n;
	uint64_t rng;
	bool verbose;
	unsigned n_alloc, n_refresh, n_release, n_fail;
	uint32_t warn;
	int last_code;
	bool permitted, bound;
	unsigned rx_data;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t xorshift(void *ctx)
{
	uint64_t *s = ctx;

	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int bind_udp(const struct ice_addr *want)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(want, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		fprintf(stderr, "icegw-turn: socket/bind: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void send_to(int fd, const struct ice_addr *to, const uint8_t *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = to_sockaddr(to, &ss);

	(void)sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sl); /* UDP: loss is retried */
}

static void flush(struct client *c, uint64_t now)
{
	uint8_t buf[1500];
	struct ice_addr to;
	int n;

	while ((n = turn_poll_transmit(&c->a, now, buf, sizeof(buf), &to)) > 0)
		send_to(c->fd, &to, buf, (size_t)n);
}

static void events(struct run *r, struct client *c, unsigned i)
{
	struct turn_event ev;
	char s1[ICE_ADDR_STRLEN], s2[ICE_ADDR_STRLEN];

	while (turn_poll_event(&c->a, &ev)) {
		switch (ev.type) {
		case TURN_EV_ALLOCATED:
			c->allocated = true;
			r->n_alloc++;
			if (r->verbose || r->n == 1)
				printf("allocated %u relayed %s mapped %s\n", i,
				       ice_addr_fmt(&ev.relayed, s1, sizeof(s1)),
				       ice_addr_fmt(&ev.mapped, s2, sizeof(s2)));
			break;
		case TURN_EV_REFRESHED:
			if (!c->refreshed)
				r->n_refresh++;
			c->refreshed = true;
			break;
		case TURN_EV_PERMISSION:
			r->permitted = true;
			printf("permission %s\n", ice_addr_fmt_ip(&ev.peer, s1, sizeof(s1)));
			break;
		case TURN_EV_CHANNEL_BOUND:
			r->bound = true;
			printf("channel 0x%04x %s\n", ev.channel, ice_addr_fmt(&ev.peer, s1, sizeof(s1)));
			break;
		case TURN_EV_PERMISSION_FAILED:
		case TURN_EV_CHANNEL_FAILED:
			printf("%s failed %d\n", ev.type == TURN_EV_PERMISSION_FAILED ? "permission"
										: "channel", ev.code);
			r->n_fail++;
			c->failed = true;
			break;
		case TURN_EV_FAILED:
			c->failed = true;
			r->n_fail++;
			r->warn |= ev.warn;
			r->last_code = ev.code;
			if (r->verbose || r->n == 1)
				printf("failed %u code %d ICEWarn 0x%x\n", i, ev.code, ev.warn);
			break;
		case TURN_EV_DEALLOCATED:
			c->released = true;
			r->n_release++;
			break;
		}
	}
}

/* One poll round over every socket; returns false on a system error. */
static bool pump(struct run *r, struct pollfd *pfd, uint64_t deadline)
{
	uint64_t now = now_us(), wake = deadline;
	uint8_t buf[2048];

	for (unsigned i = 0; i < r->n; i++) {
		uint64_t t = turn_next_timeout(&r->c[i].a);
		if (t < wake)
			wake = t;
	}
	if (poll(pfd, r->n, wake > now ? (int)((wake - now + 999) / 1000) : 0) < 0 && errno != EINTR)
		return false;
	now = now_us();
	for (unsigned i = 0; i < r->n; i++) {
		struct client *c = &r->c[i];

		if (pfd[i].revents & POLLIN) {
			for (;;) {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof(ss);
				struct ice_addr from, peer;
				const uint8_t *d;
				size_t dl;
				ssize_t n = recvfrom(c->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

				if (n < 0)
					break;
				if (!from_sockaddr(&ss, &from))
					continue;
				if (turn_handle(&c->a, now, &from, buf, (size_t)n) == TURN_RX_DATA &&
				    turn_unwrap(&c->a, buf, (size_t)n, &peer, &d, &dl) == 0) {
					char ps[ICE_ADDR_STRLEN];
					if (r->rx_data++ < 3 || r->verbose)
						printf("data from %s %zu bytes: %.*s\n",
						       ice_addr_fmt(&peer, ps, sizeof(ps)), dl, (int)dl, d);
				}
			}
		}
		turn_handle_timeout(&c->a, now);
		flush(c, now);
		events(r, c, i);
	}
	return true;
}

static int read_addr_file(const char *path, struct ice_addr *a, uint64_t deadline)
{
	char line[128];

	while (now_us() < deadline) {
		FILE *f = fopen(path, "r");
		if (f) {
			bool ok = fgets(line, sizeof(line), f) != NULL;
			fclose(f);
			line[strcspn(line, "\r\n")] = 0;
			if (ok && ice_addr_parse(a, line) == 0 && a->port)
				return 0;
		}
		usleep(20000);
	}
	return -1;
}

static int write_addr_file(const char *path, const struct ice_addr *a)
{
	char tmp[4096], s[ICE_ADDR_STRLEN];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", ice_addr_fmt(a, s, sizeof(s)));
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path); /* atomic: the peer never reads half a line */
}

static int usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "icegw-turn: %s\n", msg);
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'}, {"user", required_argument, NULL, 'u'},
		{"pass", required_argument, NULL, 'p'},   {"count", required_argument, NULL, 'n'},
		{"bind", required_argument, NULL, 'b'},   {"peer", required_argument, NULL, 'P'},
		{"peer-file", required_argument, NULL, 'F'}, {"relay-file", required_argument, NULL, 'R'},
		{"channel", no_argument, NULL, 'c'},      {"send", required_argument, NULL, 'd'},
		{"refresh", no_argument, NULL, 'r'},      {"lifetime", required_argument, NULL, 'l'},
		{"rto-ms", required_argument, NULL, 'o'}, {"timeout", required_argument, NULL, 't'},
		{"ms-turn", no_argument, NULL, 'm'},      {"seed", required_argument, NULL, 'S'},
		{"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	struct turn_config cfg = {0};
	struct ice_addr bind_addr, peer = {0};
	const char *peer_file = NULL, *relay_file = NULL;
	bool channel = false, refresh = false, have_peer = false;
	unsigned count = 1, send_n = 0, timeout_s = 30, sent = 0;
	uint64_t seed = 0, deadline, next_data = 0, linger_until = 0;
	struct run r = {0};
	struct pollfd *pfd;
	int o, rc = EXIT_OK;

	ice_addr_parse(&bind_addr, "127.0.0.1");
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (ice_addr_parse(&cfg.server, optarg) || !cfg.server.port)
				return usage("bad --server");
			break;
		case 'u': cfg.user = optarg; break;
		case 'p': cfg.pass = optarg; break;
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'b':
			if (ice_addr_parse(&bind_addr, optarg))
				return usage("bad --bind");
			break;
		case 'P':
			if (ice_addr_parse(&peer, optarg) || !peer.port)
				return usage("bad --peer");
			have_peer = true;
			break;
		case 'F': peer_file = optarg; break;
		case 'R': relay_file = optarg; break;
		case 'c': channel = true; break;
		case 'd': send_n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': refresh = true; break;
		case 'l': cfg.lifetime_s = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'o': cfg.rto_us = (uint32_t)strtoul(optarg, NULL, 10) * 1000u; break;
		case 't': timeout_s = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': cfg.ms_turn = true; break;
		case 'S': seed = strtoull(optarg, NULL, 0); break;
		case 'v': r.verbose = true; break;
		default: return usage(NULL);
		}
	}
	if (!cfg.server.family || !cfg.user || !cfg.pass || count == 0 || count > MAX_COUNT)
		return usage("--server, --user and --pass are required; 1 <= --count <= 5000");
	if (!seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)now_us();
	r.rng = seed | 1;
	cfg.rng = xorshift;
	cfg.rng_ctx = &r.rng;
	{ /* one socket per allocation: raise the descriptor limit to what that needs */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < count + 64) {
			rl.rlim_cur = rl.rlim_max < count + 64 ? rl.rlim_max : count + 64;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	r.n = count;
	r.c = calloc(count, sizeof(*r.c));
	pfd = calloc(count, sizeof(*pfd));
	if (!r.c || !pfd)
		return EXIT_SYSTEM;
	deadline = now_us() + (uint64_t)timeout_s * 1000000u;
	for (unsigned i = 0; i < count; i++) {
		r.c[i].fd = bind_udp(&bind_addr);
		if (r.c[i].fd < 0)
			return EXIT_SYSTEM;
		if (turn_init(&r.c[i].a, &cfg) != 0)
			return usage("bad credentials or server");
		pfd[i] = (struct pollfd){.fd = r.c[i].fd, .events = POLLIN};
		turn_start(&r.c[i].a, now_us());
		flush(&r.c[i], now_us());
	}
	/* phase 1: allocate */
	while (r.n_alloc + r.n_fail < count && now_us() < deadline)
		if (!pump(&r, pfd, deadline))
			return EXIT_SYSTEM;
	if (r.n_alloc + r.n_fail < count) {
		rc = EXIT_TIMEOUT;
		goto release;
	}
	printf("allocations %u/%u\n", r.n_alloc, count);
	if (r.n_fail) {
		rc = EXIT_FAILED;
		goto release;
	}
	/* phase 2: data through the first allocation */
	if (relay_file && write_addr_file(relay_file, &r.c[0].a.relayed) != 0) {
		fprintf(stderr, "icegw-turn: cannot write %s\n", relay_file);
		rc = EXIT_SYSTEM;
		goto release;
	}
	if (peer_file) {
		uint64_t pd = now_us() + PEER_WAIT_US;
		if (read_addr_file(peer_file, &peer, pd < deadline ? pd : deadline) != 0) {
			fprintf(stderr, "icegw-turn: no peer address in %s\n", peer_file);
			rc = EXIT_TIMEOUT;
			goto release;
		}
		have_peer = true;
	}
	if (have_peer) {
		struct client *c = &r.c[0];
		turn_permit(&c->a, now_us(), &peer);
		if (channel)
			turn_bind_channel(&c->a, now_us(), &peer);
		flush(c, now_us());
		while (!(r.permitted && (!channel || r.bound)) && !r.n_fail && now_us() < deadline)
			if (!pump(&r, pfd, deadline))
				return EXIT_SYSTEM;
		if (r.n_fail || now_us() >= deadline) {
			rc = r.n_fail ? EXIT_FAILED : EXIT_TIMEOUT;
			goto release;
		}
		/* send until we have sent N and received N, then linger so the peer gets its N */
		while (now_us() < deadline && (!linger_until || now_us() < linger_until)) {
			uint64_t now = now_us();
			if (now >= next_data) { /* also while lingering: the peer may have lost our first */
				uint8_t pkt[256], out[512];
				int n, l = snprintf((char *)pkt, sizeof(pkt), "icegw-turn %u", sent);
				n = turn_wrap(&c->a, &peer, pkt, (size_t)l, out, sizeof(out));
				if (n > 0)
					send_to(c->fd, &c->a.server, out, (size_t)n);
				sent++;
				next_data = now + DATA_INTERVAL_US;
			}
			if (!linger_until && sent >= send_n && r.rx_data >= send_n)
				linger_until = now + LINGER_US;
			if (!pump(&r, pfd, next_data < deadline ? next_data : deadline))
				return EXIT_SYSTEM;
		}
		printf("data sent %u received %u\n", sent, r.rx_data);
		if (r.rx_data < send_n)
			rc = EXIT_TIMEOUT;
	}
	/* phase 3: refresh every allocation once */
	if (refresh) {
		for (unsigned i = 0; i < count; i++) {
			turn_refresh(&r.c[i].a, now_us());
			flush(&r.c[i], now_us());
		}
		while (r.n_refresh + r.n_fail < count && now_us() < deadline)
			if (!pump(&r, pfd, deadline))
				return EXIT_SYSTEM;
		printf("refreshed %u/%u\n", r.n_refresh, count);
		if (r.n_refresh < count && rc == EXIT_OK)
			rc = r.n_fail ? EXIT_FAILED : EXIT_TIMEOUT;
	}
release:
	{
		unsigned want = 0;
		uint64_t rd = now_us() + 10000000u; /* a bounded last phase even past the deadline */
		for (unsigned i = 0; i < count; i++) {
			if (r.c[i].a.state == TURN_S_ALLOCATED) {
				turn_release(&r.c[i].a, now_us());
				flush(&r.c[i], now_us());
				want++;
			}
		}
		r.n_release = 0;
		for (unsigned i = 0; i < count; i++)
			events(&r, &r.c[i], i);
		while (r.n_release < want && now_us() < rd)
			if (!pump(&r, pfd, rd))
				return EXIT_SYSTEM;
		printf("released %u/%u\n", r.n_release, want);
		if (r.n_release < want && rc == EXIT_OK)
			rc = EXIT_TIMEOUT;
	}
	printf("summary: count %u allocated %u refreshed %u released %u failed %u ICEWarn 0x%x",
	       count, r.n_alloc, r.n_refresh, r.n_release, r.n_fail, r.warn);
	if (r.warn) {
		char txt[ICE_WARN_FORMAT_MAX];
		ice_warn_format(txt, sizeof(txt), r.warn);
		printf(" (%s)", txt);
	}
	printf("\n");
	for (unsigned i = 0; i < count; i++)
		close(r.c[i].fd);
	free(r.c);
	free(pfd);
	return rc;
}
