// File descriptors and per-task facts that need a syscall rather than a /proc read:
// kcmp, pidfd_getfd, pipe peeking, socket options, rlimits, scheduling, robust list, clocks.
#include "common.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sched.h>
#include <linux/mount.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <vector>

namespace ckpt {
namespace {

Napi::Value Ret(Napi::Env env, long r) { return Napi::Number::New(env, r < 0 ? -errno : r); }

// kcmp(pid1, pid2, type, idx1, idx2) -> 0 equal, 1/2 ordered, 3 not equal, -errno
Napi::Value Kcmp(const Napi::CallbackInfo& info) {
  long r = syscall(SYS_kcmp, (pid_t)ArgInt(info, 0), (pid_t)ArgInt(info, 1), (int)ArgInt(info, 2),
                   (unsigned long)ArgInt(info, 3), (unsigned long)ArgInt(info, 4));
  return Ret(info.Env(), r);
}

// kcmpEpollTfd(pid1, fd, pid2, efd, tfd, toff) -> 0 when fd of pid1 is the file registered as the
// toff-th target with number tfd in epoll fd efd of pid2 (KCMP_EPOLL_TFD), else >0 or -errno
Napi::Value KcmpEpollTfd(const Napi::CallbackInfo& info) {
  struct { uint32_t efd, tfd, toff; } slot = { (uint32_t)ArgInt(info, 3), (uint32_t)ArgInt(info, 4), (uint32_t)ArgInt(info, 5) };
  long r = syscall(SYS_kcmp, (pid_t)ArgInt(info, 0), (pid_t)ArgInt(info, 2), 7 /* KCMP_EPOLL_TFD */,
                   (unsigned long)ArgInt(info, 1), (unsigned long)&slot);
  return Ret(info.Env(), r);
}

// getFd(pid, fd) -> a local fd on the same open file description (pidfd_getfd)
Napi::Value GetFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)ArgInt(info, 0), 0);
  if (pidfd < 0) return ThrowErrno(env, "pidfd_open");
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)ArgInt(info, 1), 0);
  int e = errno;
  close(pidfd);
  if (fd < 0) return ThrowErrno(env, "pidfd_getfd", e);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(env, fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) { return Ret(info.Env(), close((int)ArgInt(info, 0))); }

Napi::Value Fcntl(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), fcntl((int)ArgInt(info, 0), (int)ArgInt(info, 1), (long)(info.Length() > 2 ? ArgInt(info, 2) : 0)));
}

// pipePeek(fd) -> Buffer with the unread bytes of a pipe, leaving them in place (tee).
Napi::Value PipePeek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int src = (int)ArgInt(info, 0);
  int avail = 0;
  if (ioctl(src, FIONREAD, &avail) < 0) return ThrowErrno(env, "FIONREAD");
  if (avail == 0) return Napi::Buffer<char>::New(env, 0);
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) return ThrowErrno(env, "pipe2");
  int size = fcntl(src, F_GETPIPE_SZ);
  if (size > 0) fcntl(p[1], F_SETPIPE_SZ, size);
  ssize_t n = tee(src, p[1], (size_t)avail, SPLICE_F_NONBLOCK);
  if (n < 0) {
    int e = errno;
    close(p[0]);
    close(p[1]);
    return ThrowErrno(env, "tee", e);
  }
  std::vector<char> buf(n);
  ssize_t got = 0;
  while (got < n) {
    ssize_t r = read(p[0], buf.data() + got, n - got);
    if (r <= 0) break;
    got += r;
  }
  close(p[0]);
  close(p[1]);
  return Napi::Buffer<char>::Copy(env, buf.data(), got);
}

// getsockoptInt(fd, level, name) -> number | -errno
Napi::Value GetsockoptInt(const Napi::CallbackInfo& info) {
  int v = 0;
  socklen_t l = sizeof(v);
  long r = getsockopt((int)ArgInt(info, 0), (int)ArgInt(info, 1), (int)ArgInt(info, 2), &v, &l);
  return r < 0 ? Napi::Number::New(info.Env(), -errno) : Napi::Number::New(info.Env(), v);
}

// getsockoptBuf(fd, level, name, size) -> Buffer | null
Napi::Value GetsockoptBuf(const Napi::CallbackInfo& info) {
  std::vector<char> b((size_t)ArgInt(info, 3));
  socklen_t l = b.size();
  if (getsockopt((int)ArgInt(info, 0), (int)ArgInt(info, 1), (int)ArgInt(info, 2), b.data(), &l) < 0)
    return info.Env().Null();
  return Napi::Buffer<char>::Copy(info.Env(), b.data(), l);
}

// sockName(fd, peer) -> Buffer (raw sockaddr) | null
Napi::Value SockName(const Napi::CallbackInfo& info) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof(ss);
  int fd = (int)ArgInt(info, 0);
  bool peer = info.Length() > 1 && info[1].ToBoolean();
  int r = peer ? getpeername(fd, (sockaddr*)&ss, &l) : getsockname(fd, (sockaddr*)&ss, &l);
  if (r < 0) return info.Env().Null();
  return Napi::Buffer<char>::Copy(info.Env(), (char*)&ss, l);
}

// pollEvents(fd, events) -> the events poll(2) reports at once, or -errno (a socket's shutdown state shows there)
Napi::Value PollEvents(const Napi::CallbackInfo& info) {
  struct pollfd p = { (int)ArgInt(info, 0), (short)ArgInt(info, 1), 0 };
  int r = poll(&p, 1, 0);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : p.revents);
}

// sockNetNs(fd) -> the inode of the network namespace a socket belongs to (SIOCGSKNS), or -errno
Napi::Value SockNetNs(const Napi::CallbackInfo& info) {
  int ns = ioctl((int)ArgInt(info, 0), SIOCGSKNS);
  if (ns < 0) return Napi::Number::New(info.Env(), -errno);
  struct stat st;
  int r = fstat(ns, &st);
  int e = errno;
  close(ns);
  return Napi::Number::New(info.Env(), r < 0 ? -e : (double)st.st_ino);
}

// sockFilter(fd) -> Buffer of the classic BPF filter attached to a socket (struct sock_filter each), empty when none
Napi::Value SockFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = (int)ArgInt(info, 0);
  socklen_t n = 0;
  if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, nullptr, &n) < 0) return ThrowErrno(env, "getsockopt(SO_GET_FILTER)");
  if (!n) return Napi::Buffer<char>::New(env, 0);
  std::vector<sock_filter> f(n);
  if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, f.data(), &n) < 0) return ThrowErrno(env, "getsockopt(SO_GET_FILTER)");
  return Napi::Buffer<char>::Copy(env, (char*)f.data(), (size_t)n * sizeof(sock_filter));
}

// peekQueue(fd) -> [{data: Buffer, fds: number[]}]: the packets queued on a socket, read with MSG_PEEK and
// SO_PEEK_OFF so nothing is consumed (the peek offset is put back as it was). fds are the files in flight
// with a packet (SCM_RIGHTS), duplicated into this process (close-on-exec); the caller owns them.
// A datagram or seqpacket socket is peeked with SO_PASSCRED on (put back after): every queued message,
// even an empty one, then carries SCM_CREDENTIALS, which tells an empty message from the end of the
// queue (a seqpacket socket whose peer is gone returns 0 for both).
Napi::Value PeekQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = (int)ArgInt(info, 0);
  int type = 0, peekOff = -1, passcred = 0;
  socklen_t l = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0) return ThrowErrno(env, "SO_TYPE");
  l = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &peekOff, &l) < 0) return ThrowErrno(env, "getsockopt(SO_PEEK_OFF)");
  l = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, SO_PASSCRED, &passcred, &l) < 0) return ThrowErrno(env, "getsockopt(SO_PASSCRED)");
  bool messages = type != SOCK_STREAM;
  int on = 1, zero = 0;
  if (messages && !passcred && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
    return ThrowErrno(env, "setsockopt(SO_PASSCRED)");
  auto putBack = [&]() {
    setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &peekOff, sizeof(peekOff));
    if (messages && !passcred) setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &zero, sizeof(zero));
  };
  if (setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
    int e = errno;
    putBack();
    return ThrowErrno(env, "setsockopt(SO_PEEK_OFF)", e);
  }
  Napi::Array out = Napi::Array::New(env);
  std::vector<int> owned;  // fds received so far, closed if this fails
  auto fail = [&](const char* what, int e) {
    for (int f : owned) close(f);
    putBack();
    return ThrowErrno(env, what, e);
  };
  static std::vector<char> buf(8 << 20);  // larger than any unix datagram a default sndbuf lets through
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred)) + 256];
  for (;;) {
    struct iovec iov = {buf.data(), buf.size()};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof(ctl);
    ssize_t n = recvmsg(fd, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return fail("recvmsg(MSG_PEEK)", errno);
    }
    bool creds = false;
    Napi::Array fds = Napi::Array::New(env);
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      if (c->cmsg_type == SCM_RIGHTS) {
        for (size_t i = 0; i < nfd; i++) {
          int f;
          memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          owned.push_back(f);
          fds.Set(fds.Length(), f);
        }
      } else if (c->cmsg_type == SCM_CREDENTIALS) {
        creds = true;
      } else if (c->cmsg_type == 0x04 /* SCM_PIDFD: a pidfd we do not want */) {
        for (size_t i = 0; i < nfd; i++) {
          int f;
          memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          close(f);
        }
      }
    }
    if (mh.msg_flags & MSG_CTRUNC) return fail("recvmsg(MSG_PEEK): control data truncated (too many files in flight)", EMSGSIZE);
    if (mh.msg_flags & MSG_TRUNC) return fail("recvmsg(MSG_PEEK): a queued message is larger than 8 MiB", EMSGSIZE);
    if (n == 0 && (!messages || !creds)) break;  // end of a stream, or a seqpacket peer's shutdown
    Napi::Object pkt = Napi::Object::New(env);
    pkt.Set("data", Napi::Buffer<char>::Copy(env, buf.data(), n));
    pkt.Set("fds", fds);
    out.Set(out.Length(), pkt);
  }
  putBack();
  return out;
}

// unixSockFile(fd) -> {path, mode, uid, gid} | null: the socket file a unix socket is bound to (SIOCUNIXFILE
// opens it O_PATH; its link is the absolute path, " (deleted)" when unlinked), or null when it has none
Napi::Value UnixSockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pf = ioctl((int)ArgInt(info, 0), 0x89E0 /* SIOCUNIXFILE */);
  if (pf < 0) return env.Null();
  struct stat st;
  char link[64], buf[4096];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", pf);
  ssize_t n = fstat(pf, &st) < 0 ? -1 : readlink(link, buf, sizeof(buf));
  close(pf);
  if (n < 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", Napi::String::New(env, buf, n));
  o.Set("mode", (double)st.st_mode);
  o.Set("uid", (double)st.st_uid);
  o.Set("gid", (double)st.st_gid);
  return o;
}

// prlimit(pid, resource) -> [cur, max] bigints
Napi::Value Prlimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct rlimit64 rl;
  if (prlimit64((pid_t)ArgInt(info, 0), (__rlimit_resource)ArgInt(info, 1), nullptr, &rl) < 0)
    return ThrowErrno(env, "prlimit");
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, U64(env, rl.rlim_cur));
  a.Set(1u, U64(env, rl.rlim_max));
  return a;
}

// sched(tid) -> {policy, prio, nice}
Napi::Value Sched(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = (pid_t)ArgInt(info, 0);
  int policy = sched_getscheduler(tid);
  if (policy < 0) return ThrowErrno(env, "sched_getscheduler");
  struct sched_param sp;
  if (sched_getparam(tid, &sp) < 0) return ThrowErrno(env, "sched_getparam");
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, tid);
  if (errno) return ThrowErrno(env, "getpriority");
  Napi::Object o = Napi::Object::New(env);
  o.Set("policy", policy);
  o.Set("prio", sp.sched_priority);
  o.Set("nice", nice);
  return o;
}

// robustList(tid) -> {head: bigint, len}
Napi::Value RobustList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* head = nullptr;
  size_t len = 0;
  if (syscall(SYS_get_robust_list, (pid_t)ArgInt(info, 0), &head, &len) < 0) return ThrowErrno(env, "get_robust_list");
  Napi::Object o = Napi::Object::New(env);
  o.Set("head", U64(env, (uint64_t)head));
  o.Set("len", Napi::Number::New(env, (double)len));
  return o;
}

// clock(id) -> [sec, nsec]
Napi::Value Clock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct timespec ts;
  if (clock_gettime((clockid_t)ArgInt(info, 0), &ts) < 0) return ThrowErrno(env, "clock_gettime");
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, (double)ts.tv_sec));
  a.Set(1u, Napi::Number::New(env, (double)ts.tv_nsec));
  return a;
}


// lseek(fd, offset, whence) -> bigint offset, or a negative number (-errno)
Napi::Value Lseek(const Napi::CallbackInfo& info) {
  off_t r = lseek((int)ArgInt(info, 0), (off_t)ArgInt(info, 1), (int)ArgInt(info, 2));
  if (r < 0) return Napi::Number::New(info.Env(), -errno);
  return U64(info.Env(), (uint64_t)r);
}

// shmemDev() -> st_dev of the kernel's internal shmem mount (shared anonymous memory, memfds, SysV shm:
// CRIU's kdat.shmem_dev), read from a shared anonymous page of our own; or -errno
Napi::Value ShmemDev(const Napi::CallbackInfo& info) {
  long pg = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, pg, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Napi::Number::New(info.Env(), -errno);
  char path[96];
  snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p, (unsigned long)p + pg);
  struct stat st;
  int r = stat(path, &st);
  int e = errno;
  munmap(p, pg);
  return Napi::Number::New(info.Env(), r < 0 ? -e : (double)st.st_dev);
}

// fown(fd) -> {pid, pidType, uid, euid, signum}: the owner of an open file description
Napi::Value Fown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = (int)ArgInt(info, 0);
  struct f_owner_ex ex = {F_OWNER_TID, 0};
  if (fcntl(fd, F_GETOWN_EX, &ex) < 0) return ThrowErrno(env, "F_GETOWN_EX");
  uint32_t uids[2] = {0, 0};
  if (fcntl(fd, 17 /* F_GETOWNER_UIDS */, uids) < 0) uids[0] = uids[1] = 0;
  int sig = fcntl(fd, F_GETSIG);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", ex.pid);
  o.Set("pidType", (int)ex.type);
  o.Set("uid", uids[0]);
  o.Set("euid", uids[1]);
  o.Set("signum", sig < 0 ? 0 : sig);
  return o;
}


// handlePath(mountDir, handleType, handleBytes) -> the path of the object behind a file handle
// (open_by_handle_at + readlink of the resulting fd), or null.
Napi::Value HandlePath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<char> h = info[2].As<Napi::Buffer<char>>();
  int mfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (mfd < 0) return env.Null();
  std::vector<char> fhbuf(sizeof(struct file_handle) + h.Length());
  struct file_handle* fh = (struct file_handle*)fhbuf.data();
  fh->handle_bytes = h.Length();
  fh->handle_type = (int)ArgInt(info, 1);
  memcpy(fh->f_handle, h.Data(), h.Length());
  int fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
  close(mfd);
  if (fd < 0) return env.Null();
  char link[64], buf[4096];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof(buf) - 1);
  close(fd);
  if (n < 0) return env.Null();
  return Napi::String::New(env, buf, n);
}

// mknod(path, mode, rdev) -> 0 or -errno: a ghost FIFO or device node (node's fs has no mknod)
Napi::Value Mknod(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  return Ret(info.Env(), mknod(path.c_str(), (mode_t)ArgInt(info, 1), (dev_t)ArgInt(info, 2)));
}

// linkFollow(from, to) -> 0 or -errno: a new name for the file a magic link (/proc/PID/fd/N) points to,
// deleted or not (linkat AT_SYMLINK_FOLLOW; a file with no name left fails with ENOENT)
Napi::Value LinkFollow(const Napi::CallbackInfo& info) {
  std::string from = info[0].As<Napi::String>().Utf8Value(), to = info[1].As<Napi::String>().Utf8Value();
  return Ret(info.Env(), linkat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), AT_SYMLINK_FOLLOW));
}

// symlinkTarget(procFd) -> the target of the symlink a magic link points to (an O_PATH fd of a symlink,
// deleted or not), or null
Napi::Value SymlinkTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) return env.Null();
  char buf[4096];
  ssize_t n = readlinkat(fd, "", buf, sizeof(buf));
  close(fd);
  if (n < 0 || n == (ssize_t)sizeof(buf)) return env.Null();
  return Napi::String::New(env, buf, n);
}

// mountCgroup(fstype, options) -> fd of a detached mount of that cgroup hierarchy (fsopen/fsmount: nothing
// appears in the mount table), or -errno. options: "name=X" and/or controller flags, comma-separated.
Napi::Value MountCgroup(const Napi::CallbackInfo& info) {
  std::string fstype = info[0].As<Napi::String>().Utf8Value();
  std::string opts = info[1].As<Napi::String>().Utf8Value();
  int fsfd = (int)syscall(SYS_fsopen, fstype.c_str(), FSOPEN_CLOEXEC);
  if (fsfd < 0) return Ret(info.Env(), -1);
  size_t pos = 0;
  while (pos < opts.size()) {
    size_t comma = opts.find(',', pos);
    std::string o = opts.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? opts.size() : comma + 1;
    long r = o.rfind("name=", 0) == 0
                 ? syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "name", o.c_str() + 5, 0)
                 : syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, o.c_str(), NULL, 0);
    if (r < 0) { int e = errno; close(fsfd); return Napi::Number::New(info.Env(), -e); }
  }
  if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    int e = errno;
    close(fsfd);
    if (e != EBUSY) return Napi::Number::New(info.Env(), -e);
    // the kernel refuses fsconfig's create for a v1 hierarchy that mount(2) still reuses (a net_prio one
    // left by an unmount): mount it on a private directory, keep a dirfd, detach the mount (criu's
    // open_detach_mount)
    char dir[] = "/tmp/.ckpt-cgroup.XXXXXX";
    if (!mkdtemp(dir)) return Napi::Number::New(info.Env(), -errno);
    std::string mopts = opts.rfind("name=", 0) == 0 ? "none," + opts : opts;
    int fd = -1;
    if (mount("none", dir, fstype.c_str(), 0, mopts.empty() ? NULL : mopts.c_str()) == 0) {
      fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) e = errno;
      umount2(dir, MNT_DETACH);
    } else {
      e = errno;
    }
    rmdir(dir);
    return Napi::Number::New(info.Env(), fd < 0 ? -e : fd);
  }
  int fd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
  int e = errno;
  close(fsfd);
  return Napi::Number::New(info.Env(), fd < 0 ? -e : fd);
}


// cgroupView(pid, tid) -> /proc/PID/task/TID/cgroup as the thread itself sees it (paths relative to its own
// cgroup namespace's root, criu's parasite-read "internal" view), or -errno. The calling thread enters that
// cgroup namespace for the read (cgroup namespaces are per thread and need no single-threaded caller) and
// returns to its own; failing to return would leave ckpt in the dumped task's view, so it aborts.
Napi::Value CgroupView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = info[0].As<Napi::Number>().Int32Value(), tid = info[1].As<Napi::Number>().Int32Value();
  char path[96];
  int own = open("/proc/thread-self/ns/cgroup", O_RDONLY | O_CLOEXEC);
  if (own < 0) return Ret(env, -1);
  snprintf(path, sizeof(path), "/proc/%d/task/%d/ns/cgroup", pid, tid);
  int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) { int e = errno; close(own); return Napi::Number::New(env, -e); }
  if (setns(ns, CLONE_NEWCGROUP) < 0) { int e = errno; close(ns); close(own); return Napi::Number::New(env, -e); }
  close(ns);
  snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", pid, tid);
  std::string text;
  int e = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) e = errno;
  for (char buf[4096]; fd >= 0;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) e = errno;
    if (n <= 0) break;
    text.append(buf, n);
  }
  if (fd >= 0) close(fd);
  if (setns(own, CLONE_NEWCGROUP) < 0) abort();
  close(own);
  if (e) return Napi::Number::New(env, -e);
  return Napi::String::New(env, text);
}

}  // namespace

void InitFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("kcmp", Napi::Function::New(env, Kcmp));
  exports.Set("kcmpEpollTfd", Napi::Function::New(env, KcmpEpollTfd));
  exports.Set("getFd", Napi::Function::New(env, GetFd));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("fcntl", Napi::Function::New(env, Fcntl));
  exports.Set("pipePeek", Napi::Function::New(env, PipePeek));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetsockoptInt));
  exports.Set("getsockoptBuf", Napi::Function::New(env, GetsockoptBuf));
  exports.Set("sockName", Napi::Function::New(env, SockName));
  exports.Set("peekQueue", Napi::Function::New(env, PeekQueue));
  exports.Set("pollEvents", Napi::Function::New(env, PollEvents));
  exports.Set("sockNetNs", Napi::Function::New(env, SockNetNs));
  exports.Set("sockFilter", Napi::Function::New(env, SockFilter));
  exports.Set("unixSockFile", Napi::Function::New(env, UnixSockFile));
  exports.Set("prlimit", Napi::Function::New(env, Prlimit));
  exports.Set("sched", Napi::Function::New(env, Sched));
  exports.Set("robustList", Napi::Function::New(env, RobustList));
  exports.Set("clock", Napi::Function::New(env, Clock));
  exports.Set("lseek", Napi::Function::New(env, Lseek));
  exports.Set("fown", Napi::Function::New(env, Fown));
  exports.Set("shmemDev", Napi::Function::New(env, ShmemDev));
  exports.Set("handlePath", Napi::Function::New(env, HandlePath));
  exports.Set("mountCgroup", Napi::Function::New(env, MountCgroup));
  exports.Set("cgroupView", Napi::Function::New(env, CgroupView));
  exports.Set("mknod", Napi::Function::New(env, Mknod));
  exports.Set("linkFollow", Napi::Function::New(env, LinkFollow));
  exports.Set("symlinkTarget", Napi::Function::New(env, SymlinkTarget));
}

}  // namespace ckpt
