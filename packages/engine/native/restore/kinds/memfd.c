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

/* memfds and shared anonymous memory, filled from their pages images; seals last */
static int create_memfds(void)
{
	static char buf[1 << 20];
	for (uint64_t i = 0; i < nr_memfds; i++) {
		struct memfd_ *m = &memfds[i];
		int fd;
		if (m->anon) {
			/* MAP_SHARED|MAP_ANONYMOUS memory is a "/dev/zero" shmem file: get it from a mapping of our own */
			size_t len = (m->size + 4095) & ~4095ULL;
			if (!len)
				len = 4096;
			void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
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
			fd = (int)syscall(SYS_memfd_create, m->name, 2 /* MFD_ALLOW_SEALING */ | 1 /* MFD_CLOEXEC */);
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
			for (uint64_t k = 0; k < m->nr_runs; k++) {
				uint64_t off = m->runs[3 * k], len = m->runs[3 * k + 1], foff = m->runs[3 * k + 2];
				while (len) {
					size_t want = len < sizeof(buf) ? len : sizeof(buf);
					ssize_t r = pread(pfd, buf, want, (off_t)foff);
					if (r <= 0 || pwrite(fd, buf, r, (off_t)off) != r) {
						fprintf(stderr, "Error: %s: copying pages from %s: %s\n", m->label, m->pages, r < 0 ? strerror(errno) : "short read");
						close(pfd);
						return -1;
					}
					off += r; foff += r; len -= r;
				}
			}
			close(pfd);
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
