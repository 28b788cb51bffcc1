// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest-side helper of `make bench` (built static into the initramfs):
 *   icemp-bench now                          monotonic time in nanoseconds
 *   icemp-bench doorbell RESOURCE0 COUNT WORD writes WORD to EVENT_DOORBELL
 *                                            COUNT times; prints the nanoseconds
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
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

int main(int argc, char **argv)
{
	if (argc == 2 && argv[1][0] == 'n') {
		printf("%llu\n", (unsigned long long)now_ns());
		return 0;
	}
	if (argc == 5 && argv[1][0] == 'd')
		return doorbell(argv[2], strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
	fprintf(stderr, "usage: icemp-bench now | doorbell RESOURCE0 COUNT WORD\n");
	return 2;
}
