/* AIO rings, in the restorer blob (included by restore-blob.c after its syscall wrappers and fail()).
 * The dumped ring's pages are back at r->addr, in private anonymous memory. The kernel keeps its own copy of
 * the tail (and counts completions against the head), so the ring is made again: io_setup() with the dumped
 * nr_req gives a ring of the same size; writes of one byte to /dev/null, which complete inside io_submit(),
 * move its tail to the dumped one (a full turn first when the dumped tail is behind the head), the head being
 * moved along as user space does (at most nr-1 events wait in a ring); then the dumped events are copied in
 * and the new ring is moved over the old one (mremap: the context id is the ring's address). */
#define __NR_open 2
#define __NR_mremap 25
#define __NR_io_setup 206
#define __NR_io_submit 209
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2

struct aio_ring_hdr { uint32_t id, nr, head, tail, magic, compat_features, incompat_features, header_length; };

struct rst_iocb {  /* struct iocb of <linux/aio_abi.h>, little-endian */
	uint64_t data;
	uint32_t key, rw_flags;
	uint16_t opcode; int16_t reqprio; uint32_t fildes;
	uint64_t buf, nbytes; int64_t offset; uint64_t reserved2;
	uint32_t flags, resfd;
};

static void restore_aio_ring(struct rst_args *a, struct rst_aio *r)
{
	volatile struct aio_ring_hdr *old = (volatile struct aio_ring_hdr *)r->addr;
	uint32_t nr = old->nr, head = old->head, tail = old->tail;
	uint64_t ctx = 0;
	long ret = sys2(__NR_io_setup, r->nr_req, &ctx);
	if (ret < 0)
		fail(a, RST_STEP_AIO, ret, r->addr);
	volatile struct aio_ring_hdr *ring = (volatile struct aio_ring_hdr *)ctx;
	if (ring->nr != nr || (r->len - sizeof(*old)) / 32 != nr || head >= nr || tail >= nr)
		fail(a, RST_STEP_AIO, -22 /* EINVAL: not the dumped size, or a bad header */, r->addr);

	if (head || tail) {
		uint32_t count = tail < head ? nr + tail : tail, done = 0, batch = count < nr - 1 ? count : nr - 1;
		char byte = 0;
		long fd = sys2(__NR_open, "/dev/null", 1 /* O_WRONLY */);
		if (fd < 0)
			fail(a, RST_STEP_AIO, fd, r->addr);
		uint64_t size = sizeof(struct rst_iocb) + batch * sizeof(void *);
		long mem = sys6(__NR_mmap, 0, size, 3, 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, -1, 0);
		if (mem < 0 && mem > -4096)
			fail(a, RST_STEP_AIO, mem, r->addr);
		struct rst_iocb *cb = (struct rst_iocb *)mem;
		uint64_t *cbs = (uint64_t *)(cb + 1);
		cb->opcode = 1 /* IOCB_CMD_PWRITE */;
		cb->fildes = (uint32_t)fd;
		cb->buf = (uint64_t)&byte;
		cb->nbytes = 1;
		for (uint32_t k = 0; k < batch; k++)
			cbs[k] = (uint64_t)cb;
		while (done < count) {
			uint32_t want = count - done < batch ? count - done : batch;
			ret = sys3(__NR_io_submit, ctx, want, cbs);
			if (ret <= 0)
				fail(a, RST_STEP_AIO, ret ? ret : -11 /* EAGAIN */, r->addr);
			done += (uint32_t)ret;
			ring->head = done < head ? done : head;  /* what user space has consumed so far */
		}
		sys2(__NR_munmap, mem, size);
		sys1(__NR_close, fd);
		if (ring->tail != tail || ring->head != head)
			fail(a, RST_STEP_AIO, -22, r->addr);
	}

	volatile char *to = (volatile char *)ctx, *from = (volatile char *)r->addr;
	for (uint64_t k = sizeof(*old); k < r->len; k++)
		to[k] = from[k];
	ret = sys5(__NR_mremap, ctx, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, r->addr);
	if (ret < 0 || (uint64_t)ret != r->addr)
		fail(a, RST_STEP_AIO, ret < 0 ? ret : -14, r->addr);
}
