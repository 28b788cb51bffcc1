// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest-side helper of `make bench` and the datapath phase (built static
 * into the initramfs):
 *   icemp-bench now                          monotonic time in nanoseconds
 *   icemp-bench doorbell RESOURCE0 COUNT WORD writes WORD to EVENT_DOORBELL
 *                                            COUNT times; prints the nanoseconds
 *   icemp-bench sink udp|tcp PORT SECONDS    receives on PORT until SECONDS pass
 *                                            without data; prints "frames bytes ns",
 *                                            ns from the first byte to the last
 *   icemp-bench send udp|tcp IP PORT SIZE SECONDS
 *                                            sends SIZE-byte datagrams (udp) or
 *                                            writes (tcp) for SECONDS (0: one
 *                                            datagram or write); prints the number
 *                                            of sends that succeeded
 *   icemp-bench napi-id PORT SECONDS         waits up to SECONDS for one UDP
 *                                            datagram on PORT; prints the NAPI ID
 *                                            it arrived through (SO_INCOMING_NAPI_ID)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EVENT_DOORBELL 0x100
#define BAR0_MAP_SIZE 0x1000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int doorbell(const char *resource0, unsigned long count, uint32_t word)
{
	volatile uint32_t *regs;
	uint64_t start;
	unsigned long i;
	int fd;

	fd = open(resource0, O_RDWR | O_SYNC);
	if (fd < 0) {
		perror(resource0);
		return 1;
	}
	regs = mmap(NULL, BAR0_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (regs == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	start = now_ns();
	for (i = 0; i < count; i++)
		regs[EVENT_DOORBELL / 4] = word;
	printf("%llu\n", (unsigned long long)(now_ns() - start));
	munmap((void *)regs, BAR0_MAP_SIZE);
	return 0;
}

#define MAX_IO 65536

static int sock_of(const char *proto)
{
	int tcp = !strcmp(proto, "tcp");

	if (!tcp && strcmp(proto, "udp")) {
		fprintf(stderr, "icemp-bench: '%s' is not udp or tcp\n", proto);
		return -1;
	}
	return socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
}

static int sink(const char *proto, unsigned int port, unsigned int idle_s)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	unsigned long long frames = 0, bytes = 0, first = 0, last = 0;
	static char buf[MAX_IO];
	int fd = sock_of(proto), one = 1, conn;
	struct pollfd pfd;
	ssize_t n;

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("icemp-bench sink");
		return 1;
	}
	conn = fd;
	if (!strcmp(proto, "tcp")) {
		if (listen(fd, 1) || (conn = accept(fd, NULL, NULL)) < 0) {
			perror("icemp-bench sink: accept");
			return 1;
		}
	}
	pfd.fd = conn;
	pfd.events = POLLIN;
	/* the first datagram may take a while (the sender starts later) */
	while (poll(&pfd, 1, (frames ? idle_s : 10 * idle_s) * 1000) > 0) {
		n = recv(conn, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		last = now_ns();
		if (!frames++)
			first = last;
		bytes += n;
	}
	printf("%llu %llu %llu\n", frames, bytes, last - first);
	return 0;
}

static int send_for(const char *proto, const char *ip, unsigned int port, size_t size,
		    unsigned int seconds)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	unsigned long long sent = 0, end;
	static char buf[MAX_IO];
	int fd = sock_of(proto);

	if (size == 0 || size > MAX_IO || inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
		fprintf(stderr, "icemp-bench send: bad size or address\n");
		return 2;
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("icemp-bench send");
		return 1;
	}
	end = now_ns() + seconds * 1000000000ull;
	do {
		if (send(fd, buf, size, 0) >= 0)
			sent++;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED)
			break;
	} while (now_ns() < end);
	close(fd);
	printf("%llu\n", sent);
	return 0;
}

static int napi_id(unsigned int port, unsigned int seconds)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	unsigned int id = 0;
	socklen_t len = sizeof(id);
	struct pollfd pfd;
	char buf[64];
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("icemp-bench napi-id");
		return 1;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, seconds * 1000) != 1 || recv(fd, buf, sizeof(buf), 0) < 0) {
		fprintf(stderr, "icemp-bench napi-id: no datagram on port %u within %u s\n",
			port, seconds);
		return 1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_NAPI_ID, &id, &len)) {
		perror("icemp-bench napi-id: SO_INCOMING_NAPI_ID");
		return 1;
	}
	printf("%u\n", id);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && argv[1][0] == 'n') {
		printf("%llu\n", (unsigned long long)now_ns());
		return 0;
	}
	if (argc == 5 && argv[1][0] == 'd')
		return doorbell(argv[2], strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "sink"))
		return sink(argv[2], strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
	if (argc == 7 && !strcmp(argv[1], "send"))
		return send_for(argv[2], argv[3], strtoul(argv[4], NULL, 0),
				strtoul(argv[5], NULL, 0), strtoul(argv[6], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "napi-id"))
		return napi_id(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
	fprintf(stderr, "usage: icemp-bench now | doorbell RESOURCE0 COUNT WORD |\n"
		"       sink udp|tcp PORT SECONDS | send udp|tcp IP PORT SIZE SECONDS |\n"
		"       napi-id PORT SECONDS\n");
	return 2;
}
