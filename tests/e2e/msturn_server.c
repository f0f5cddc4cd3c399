/* msturn_server: a small MS-TURN (Edge) server for the e2e tests, on real UDP sockets: the
 * scripted server of tests/common/msturn_srv.c per client address (one allocation each, its
 * own relay socket), Sends and bare data relayed to the peers, what peers send wrapped back.
 * Prints one line per event and a summary per allocation when it ends (SIGTERM / SIGINT, or
 * after --duration seconds).
 * usage: msturn_server --listen IP:PORT --relay-ip IP [--duration S] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "msturn_srv.h"

#define MAX_ALLOC 16

struct alloc {
	struct ice_addr client;
	int relay;
	unsigned relayed_in;          /* from peers to the relayed address */
	struct msturn_srv s;
};

static struct alloc A[MAX_ALLOC];
static unsigned nalloc;
static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

static void to_sa(const struct ice_addr *a, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(a->port);
	memcpy(&sa->sin_addr, a->ip, 4);
}

static void from_sa(const struct sockaddr_in *sa, struct ice_addr *a)
{
	ice_addr_set_v4(a, ntohl(sa->sin_addr.s_addr), ntohs(sa->sin_port));
}

static int bind_udp(const struct ice_addr *at, struct ice_addr *got)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	to_sa(at, &sa);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		close(fd);
		return -1;
	}
	from_sa(&sa, got);
	return fd;
}

static void send_to(int fd, const struct ice_addr *to, const uint8_t *p, size_t n)
{
	struct sockaddr_in sa;

	to_sa(to, &sa);
	if (sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fprintf(stderr, "msturn_server: sendto: %s\n", strerror(errno));
}

static const char *fmt(const struct ice_addr *a, char *buf, size_t cap)
{
	ice_addr_fmt(a, buf, cap);
	return buf;
}

static struct alloc *find(const struct ice_addr *client, const struct ice_addr *relay_ip)
{
	struct ice_addr mapped = *client, rel;
	struct alloc *a;
	char b1[64], b2[64];

	for (unsigned i = 0; i < nalloc; i++)
		if (ice_addr_eq(&A[i].client, client))
			return &A[i];
	if (nalloc == MAX_ALLOC)
		return NULL;
	a = &A[nalloc];
	a->relay = bind_udp(relay_ip, &rel);
	if (a->relay < 0)
		return NULL;
	a->client = *client;
	msturn_srv_init(&a->s, &rel, &mapped);
	nalloc++;
	printf("client %s relayed %s\n", fmt(client, b1, sizeof(b1)), fmt(&rel, b2, sizeof(b2)));
	fflush(stdout);
	return a;
}

static void from_client(int ctl, struct alloc *a, const uint8_t *p, size_t n)
{
	struct msturn_srv *s = &a->s;
	unsigned data = s->sends + s->bare, sads = s->sads, allocs = s->allocs_signed;
	uint8_t out[1600];
	char b1[64], b2[64];
	int rn = msturn_srv_input(s, p, n, out, sizeof(out));

	if (rn > 0)
		send_to(ctl, &a->client, out, (size_t)rn);
	if (s->sends + s->bare != data)
		send_to(a->relay, &s->data_to, s->data, s->data_len);
	if (s->allocs_signed != allocs)
		printf("client %s allocate (signed) %s\n", fmt(&a->client, b1, sizeof(b1)),
		       s->allocated ? "granted" : "released");
	if (s->sads != sads)
		printf("client %s set-active-destination %s %s\n", fmt(&a->client, b1, sizeof(b1)),
		       fmt(&s->active_dest, b2, sizeof(b2)), s->active ? "ok" : "refused");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct ice_addr listen_at = {0}, relay_ip = {0}, got;
	struct pollfd pf[1 + MAX_ALLOC];
	unsigned duration = 120;
	time_t t_end;
	int ctl;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen") && ice_addr_parse(&listen_at, argv[i + 1]) == 0)
			continue;
		if (!strcmp(argv[i], "--relay-ip")) {
			char buf[64];
			snprintf(buf, sizeof(buf), "%s:0", argv[i + 1]);
			if (ice_addr_parse(&relay_ip, buf) == 0)
				continue;
		}
		if (!strcmp(argv[i], "--duration") && atoi(argv[i + 1]) > 0) {
			duration = (unsigned)atoi(argv[i + 1]);
			continue;
		}
		fprintf(stderr, "usage: msturn_server --listen IP:PORT --relay-ip IP [--duration S]\n");
		return 2;
	}
	if (listen_at.family != ICE_AF_INET || relay_ip.family != ICE_AF_INET) {
		fprintf(stderr, "usage: msturn_server --listen IP:PORT --relay-ip IP [--duration S]\n");
		return 2;
	}
	ctl = bind_udp(&listen_at, &got);
	if (ctl < 0) {
		fprintf(stderr, "msturn_server: cannot bind: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	printf("listening\n");
	fflush(stdout);
	t_end = time(NULL) + (time_t)duration;
	while (!stop && time(NULL) < t_end) {
		uint8_t buf[2048], out[2100];
		unsigned n = nalloc;

		pf[0] = (struct pollfd){.fd = ctl, .events = POLLIN};
		for (unsigned i = 0; i < n; i++)
			pf[1 + i] = (struct pollfd){.fd = A[i].relay, .events = POLLIN};
		if (poll(pf, 1 + n, 100) <= 0)
			continue;
		for (unsigned i = 0; i <= n; i++) {
			struct sockaddr_in sa;
			socklen_t sl = sizeof(sa);
			struct ice_addr from;
			ssize_t r;

			if (!(pf[i].revents & POLLIN))
				continue;
			r = recvfrom(pf[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, &sl);
			if (r <= 0)
				continue;
			from_sa(&sa, &from);
			if (i == 0) {
				struct alloc *a = find(&from, &relay_ip);
				if (a)
					from_client(ctl, a, buf, (size_t)r);
			} else if (A[i - 1].s.allocated) {
				int wn = msturn_srv_relay(&A[i - 1].s, &from, buf, (size_t)r, out, sizeof(out));
				A[i - 1].relayed_in++;
				if (wn > 0)
					send_to(ctl, &A[i - 1].client, out, (size_t)wn);
			}
		}
	}
	for (unsigned i = 0; i < nalloc; i++) {
		const struct msturn_srv *s = &A[i].s;
		char b1[64];
		printf("summary client %s allocates %u signed %u refreshes %u releases %u sends %u "
		       "sads %u bare %u from-peers %u bad %u active %s\n",
		       fmt(&A[i].client, b1, sizeof(b1)), s->allocs, s->allocs_signed, s->refreshes,
		       s->releases, s->sends, s->sads, s->bare, A[i].relayed_in, s->bad,
		       s->active ? "yes" : "no");
		close(A[i].relay);
	}
	close(ctl);
	return 0;
}
