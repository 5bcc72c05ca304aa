/* regular files (ghost files among them: their names go once every object is open; a ghost directory's
 * once every task has its cwd and root) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kinds.h"
#include "procfs.h"

/* o->path with the dumped flags, never creating or truncating; `extra` only for the open itself (a FIFO is
 * opened non-blocking). -1 once the error is printed */
int open_obj_path(struct obj *o, int extra)
{
	int flags = (int)(o->flags & ~(O_CREAT | O_EXCL | O_TRUNC | OBJ_GHOST | OBJ_LINK_REMAP));
	/* a nameless file (O_TMPFILE) comes back as a ghost: opened by name, as a file, not in a directory */
	if (flags & 020000000 /* the kernel's __O_TMPFILE */)
		flags &= ~(020000000 | O_DIRECTORY);
	int fd = open(o->path, flags | extra);
	if (fd < 0) {
		fprintf(stderr, "Error: %s: cannot open %s: %s\n", o->label, o->path, strerror(errno));
		return -1;
	}
	int drop = extra & ~(int)o->flags;
	if (drop) {
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl & ~drop);
	}
	if (o->flags & O_ASYNC)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
	return fd;
}

static int create_reg(struct obj *o)
{
	if (proc_task_obj(o))
		return 0;  /* procfs.c: opened by the task that holds it */
	int fd = open_obj_path(o, 0);
	if (fd < 0)
		return -1;
	if (o->pos && lseek(fd, (off_t)o->pos, SEEK_SET) < 0) {
		fprintf(stderr, "Error: %s: cannot seek %s to %lu: %s\n", o->label, o->path, (unsigned long)o->pos, strerror(errno));
		return -1;
	}
	return obj_fd(o, fd);
}

/* a ghost (REG or FIFO) that is a directory when dir, else one that is not */
static int is_ghost(struct obj *o, int dir)
{
	struct stat st;
	if ((o->kind != OBJ_REG && o->kind != OBJ_FIFO) || !(o->flags & OBJ_GHOST) || o->fd < 0 || fstat(o->fd, &st) < 0)
		return 0;
	return !S_ISDIR(st.st_mode) == !dir;
}

/* ghost files are open: their names go (the caller removes any left by a failure before this) */
static int unlink_ghosts(void)
{
	for (uint64_t i = 0; i < nr_objs; i++)
		if (is_ghost(&objs[i], 0) && unlink(objs[i].path) < 0 && errno != ENOENT)
			fprintf(stderr, "Warn: %s: cannot unlink %s: %s\n", objs[i].label, objs[i].path, strerror(errno));
	return 0;
}

/* the restore succeeded: the names the dump gave deleted files (--link-remap) go (kept after a failure,
 * for the next try, as criu) */
void remove_link_remaps(void)
{
	for (uint64_t i = 0; i < nr_objs; i++)
		if (objs[i].kind == OBJ_REG && (objs[i].flags & OBJ_LINK_REMAP) && unlink(objs[i].path) < 0 && errno != ENOENT)
			fprintf(stderr, "Warn: %s: cannot unlink %s: %s\n", objs[i].label, objs[i].path, strerror(errno));
}

void remove_ghost_dirs(void)
{
	for (uint64_t i = 0; i < nr_objs; i++)
		if (is_ghost(&objs[i], 1) && rmdir(objs[i].path) < 0 && errno != ENOENT)
			fprintf(stderr, "Warn: %s: cannot remove %s: %s\n", objs[i].label, objs[i].path, strerror(errno));
}

const struct kind_ops reg_ops = { .kind = OBJ_REG, .prepare = start_proc_pids, .create = create_reg, .finish = unlink_ghosts };
