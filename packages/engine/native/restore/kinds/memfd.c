/* memfds and shared anonymous memory (one table, also mapped by the tasks), and memfd objects: a file
 * description of their own on one of them */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kinds.h"

#define MFD_HUGETLB_ 4
#define MAP_HUGETLB_ 0x40000
#define HUGE_SIZE_BITS (0x3fULL << 26) /* log2 of the page size, at the same place for mmap and memfd_create */

/* pages into a hugetlbfs file: it has no write(), so through a shared mapping of it */
static int fill_hugetlb(struct memfd_ *m, int fd, int pfd)
{
	uint64_t len = m->size;
	if (!len)
		return 0;
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "Error: %s: mapping %lu bytes of hugetlb memory: %s\n", m->label, (unsigned long)len, strerror(errno));
		return -1;
	}
	for (uint64_t k = 0; k < m->nr_runs; k++) {
		uint64_t off = m->runs[3 * k], n = m->runs[3 * k + 1], foff = m->runs[3 * k + 2];
		if (off + n > len || pread(pfd, p + off, n, (off_t)foff) != (ssize_t)n) {
			fprintf(stderr, "Error: %s: copying pages from %s: %s\n", m->label, m->pages, off + n > len ? "past the end" : "short read");
			munmap(p, len);
			return -1;
		}
	}
	munmap(p, len);
	return 0;
}

static int fill_shmem(struct memfd_ *m, int fd, int pfd)
{
	static char buf[1 << 20];
	for (uint64_t k = 0; k < m->nr_runs; k++) {
		uint64_t off = m->runs[3 * k], len = m->runs[3 * k + 1], foff = m->runs[3 * k + 2];
		while (len) {
			size_t want = len < sizeof(buf) ? len : sizeof(buf);
			ssize_t r = pread(pfd, buf, want, (off_t)foff);
			if (r <= 0 || pwrite(fd, buf, r, (off_t)off) != r) {
				fprintf(stderr, "Error: %s: copying pages from %s: %s\n", m->label, m->pages, r < 0 ? strerror(errno) : "short read");
				return -1;
			}
			off += r; foff += r; len -= r;
		}
	}
	return 0;
}

/* memfds and shared anonymous memory, filled from their pages images; seals last */
static int create_memfds(void)
{
	for (uint64_t i = 0; i < nr_memfds; i++) {
		struct memfd_ *m = &memfds[i];
		int fd;
		if (m->anon) {
			/* MAP_SHARED|MAP_ANONYMOUS memory is a "/dev/zero" shmem file (on hugetlbfs "/anon_hugepage"):
			 * get it from a mapping of our own */
			uint64_t sh = (m->hugetlb & HUGE_SIZE_BITS) >> 26, page = !m->hugetlb ? 4096 : sh ? 1ULL << sh : 0;
			size_t len = page ? (m->size + page - 1) & ~(page - 1) : m->size;  /* hugetlbfs's default size: as dumped */
			if (!len)
				len = page ? page : 4096;
			int hflags = m->hugetlb ? MAP_HUGETLB_ | (int)(m->hugetlb & HUGE_SIZE_BITS) : 0;
			void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | hflags, -1, 0);
			if (p == MAP_FAILED) {
				fprintf(stderr, "Error: %s: mmap %lu bytes: %s\n", m->label, (unsigned long)len, strerror(errno));
				return -1;
			}
			char path[96];
			snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p, (unsigned long)p + len);
			fd = open(path, O_RDWR | O_CLOEXEC);
			int e = errno;
			munmap(p, len);
			if (fd < 0) {
				fprintf(stderr, "Error: %s: %s: %s\n", m->label, path, strerror(e));
				return -1;
			}
		} else {
			fd = (int)syscall(SYS_memfd_create, m->name, 2 /* MFD_ALLOW_SEALING */ | 1 /* MFD_CLOEXEC */ | (unsigned)m->hugetlb);
			if (fd < 0 || ftruncate(fd, (off_t)m->size) < 0) {
				fprintf(stderr, "Error: %s: memfd_create/ftruncate %lu: %s\n", m->label, (unsigned long)m->size, strerror(errno));
				return -1;
			}
			if (fchmod(fd, (mode_t)m->mode) < 0 || fchown(fd, (uid_t)m->uid, (gid_t)m->gid) < 0) {
				fprintf(stderr, "Error: %s: owner/mode: %s\n", m->label, strerror(errno));
				return -1;
			}
		}
		fd = move_high(fd);
		if (m->nr_runs) {
			int pfd = open(m->pages, O_RDONLY | O_CLOEXEC);
			if (pfd < 0) {
				fprintf(stderr, "Error: %s: %s: %s\n", m->label, m->pages, strerror(errno));
				return -1;
			}
			int r = m->hugetlb ? fill_hugetlb(m, fd, pfd) : fill_shmem(m, fd, pfd);
			close(pfd);
			if (r < 0)
				return -1;
		}
		if (!m->anon && m->seals && fcntl(fd, F_ADD_SEALS, (int)m->seals) < 0) {
			fprintf(stderr, "Error: %s: seals 0x%lx: %s\n", m->label, (unsigned long)m->seals, strerror(errno));
			return -1;
		}
		m->fd = fd;
	}
	return 0;
}

/* a file description of its own on the memfd, with its flags and offset. The first read-write one is
 * memfd_create's own, as CRIU does: an open() of the memfd counts as a writer of the inode, which makes
 * execveat(fd, "", AT_EMPTY_PATH) of it fail with ETXTBSY; memfd_create's file does not. */
static int create_memfd_obj(struct obj *o)
{
	struct memfd_ *m = &memfds[o->nums[0]];
	int fd;
	if ((o->flags & O_ACCMODE) == O_RDWR && !m->anon && !m->rw_given) {
		fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0 && fcntl(fd, F_SETFL, (int)o->flags) < 0) {
			close(fd);
			fd = -1;
		}
		m->rw_given = 1;
	} else {
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", m->fd);
		fd = open(path, (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC)));
	}
	if (fd < 0 || (o->pos && lseek(fd, (off_t)o->pos, SEEK_SET) < 0))
		return obj_error(o);
	return obj_fd(o, fd);
}

const struct kind_ops memfd_ops = { .kind = OBJ_MEMFD, .prepare = create_memfds, .create = create_memfd_obj };
