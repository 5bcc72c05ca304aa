// Kernel feature probes for `ckpt check`. Each probe runs the real syscall on a throwaway
// child or resource and reports 0 (works) or -errno.
#include "common.h"

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/timerfd.h>
#include <linux/kcmp.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP (1 << 21)
#endif
#ifndef PR_SET_MM_MAP_SIZE
#define PR_SET_MM_MAP_SIZE 15
#endif

namespace ckpt {
namespace {

int Neg(long r) { return r < 0 ? -errno : 0; }

// A child that only sleeps; async-signal-safe after fork from a threaded process.
pid_t SpawnSleeper() {
  pid_t pid = fork();
  if (pid == 0) {
    for (;;) pause();
  }
  return pid;
}

void Reap(pid_t pid) {
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, __WALL);
}

// probePtrace() -> {seize, interrupt, stopStatus, getregset, rseq, seccompFilter, suspendSeccomp}
Napi::Value ProbePtrace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  pid_t pid = SpawnSleeper();
  if (pid < 0) return ThrowErrno(env, "fork");
  int r = Neg(ptrace(PTRACE_SEIZE, pid, nullptr, nullptr));
  o.Set("seize", r);
  if (r == 0) {
    o.Set("interrupt", Neg(ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr)));
    int st = 0;
    waitpid(pid, &st, __WALL);
    o.Set("stopStatus", st);
    char regs[27 * 8];
    struct iovec iov = {regs, sizeof(regs)};
    o.Set("getregset", Neg(ptrace(PTRACE_GETREGSET, pid, (void*)1, &iov)));
    char rseq[32];
    o.Set("rseq", Neg(ptrace((enum __ptrace_request)PTRACE_GET_RSEQ_CONFIGURATION, pid, (void*)sizeof(rseq), rseq)));
    // Supported unless the request is unknown (EIO); EINVAL just means "no filter here".
    long f = ptrace((enum __ptrace_request)PTRACE_SECCOMP_GET_FILTER, pid, nullptr, nullptr);
    o.Set("seccompFilter", f < 0 && errno == EIO ? -EIO : 0);
    o.Set("suspendSeccomp", Neg(ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)(long)PTRACE_O_SUSPEND_SECCOMP)));
  }
  Reap(pid);
  return o;
}

// probeClone3SetTid(pid) -> 0 | -errno: creates a child with exactly that pid, which exits at once.
Napi::Value ProbeClone3SetTid(const Napi::CallbackInfo& info) {
  pid_t want = (pid_t)ArgInt(info, 0);
  struct clone_args args;
  memset(&args, 0, sizeof(args));
  args.exit_signal = SIGCHLD;
  args.set_tid = (uint64_t)(uintptr_t)&want;
  args.set_tid_size = 1;
  long r = syscall(SYS_clone3, &args, sizeof(args));
  if (r == 0) syscall(SYS_exit_group, 0);
  if (r < 0) return Napi::Number::New(info.Env(), -errno);
  int st;
  waitpid((pid_t)r, &st, 0);
  return Napi::Number::New(info.Env(), r == want ? 0 : -ESRCH);
}

// 0 when /proc/self/fdinfo/FD holds `needle`, -ENOENT when not
int FdinfoHas(int fd, const char* needle) {
  char path[64], buf[4096];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  int f = open(path, O_RDONLY | O_CLOEXEC);
  if (f < 0) return -errno;
  ssize_t n = read(f, buf, sizeof(buf) - 1);
  close(f);
  if (n < 0) return -errno;
  buf[n] = 0;
  return strstr(buf, needle) ? 0 : -ENOENT;
}

// criu's check_aio_remap: an AIO ring moved with mremap still works (io_getevents at its new address)
int ProbeAioRemap() {
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 16, &ctx) < 0) return -errno;
  unsigned long len = 0, s, e;
  char line[512];
  FILE* maps = fopen("/proc/self/maps", "re");
  while (maps && fgets(line, sizeof(line), maps))
    if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s == (unsigned long)ctx) {
      len = e - s;
      break;
    }
  if (maps) fclose(maps);
  int r = -ENOENT;
  if (len) {
    void* to = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (to == MAP_FAILED) {
      r = -errno;
    } else if (mremap((void*)ctx, len, len, MREMAP_FIXED | MREMAP_MAYMOVE, to) == MAP_FAILED) {
      r = -errno;
      munmap(to, len);
    } else {
      ctx = (aio_context_t)to;
      r = syscall(SYS_io_getevents, ctx, 0, 1, nullptr, nullptr) < 0 ? -errno : 0;
    }
  }
  syscall(SYS_io_destroy, ctx);
  return r;
}

// criu's fdinfo_lock: a flock shows in fdinfo; timerfd: a timer's settings show in fdinfo
int ProbeFdinfoLock() {
  int fd = (int)syscall(SYS_memfd_create, "ckpt-check", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  int r = flock(fd, LOCK_SH) < 0 ? -errno : FdinfoHas(fd, "\nlock:");
  close(fd);
  return r;
}

int ProbeTimerfd() {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (fd < 0) return -errno;
  struct itimerspec its = {{0, 0}, {1000, 0}};
  int r = timerfd_settime(fd, 0, &its, nullptr) < 0 ? -errno : FdinfoHas(fd, "it_value:");
  close(fd);
  return r;
}

// probeSimple() -> {mmMap, memfd, userfaultfd, kcmp, seccomp, softDirty, aioRemap, fdinfoLock, timerfd}
// SO_BUF_LOCK can be read (criu's kerndat_sockopt_buf_lock)
int ProbeSockoptBufLock() {
  int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (sk < 0) return -errno;
  int v = 0;
  socklen_t l = sizeof(v);
  int r = Neg(getsockopt(sk, SOL_SOCKET, 72 /* SO_BUF_LOCK */, &v, &l));
  close(sk);
  return r;
}

// IPV6_FREEBIND can be set (criu's kerndat_has_ipv6_freebind)
int ProbeIpv6Freebind() {
  int sk = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  if (sk < 0) return -errno;
  int one = 1;
  int r = Neg(setsockopt(sk, SOL_IPV6, 78 /* IPV6_FREEBIND */, &one, sizeof(one)));
  close(sk);
  return r;
}

// TCP_REPAIR on a half-closed connection over loopback (criu's kerndat_tcp_repair)
int ProbeTcpHalfClosed() {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP), c = -1, r = 0, one = 1;
  struct sockaddr_in a = {};
  socklen_t al = sizeof(a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (l < 0 || bind(l, (sockaddr*)&a, sizeof(a)) < 0 || getsockname(l, (sockaddr*)&a, &al) < 0 || listen(l, 1) < 0 ||
      (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP)) < 0 || connect(c, (sockaddr*)&a, sizeof(a)) < 0 ||
      shutdown(c, SHUT_WR) < 0 || setsockopt(c, SOL_TCP, TCP_REPAIR, &one, sizeof(one)) < 0)
    r = -errno;
  if (c >= 0) close(c);
  if (l >= 0) close(l);
  return r;
}

Napi::Value ProbeSimple(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  unsigned int size = 0;
  o.Set("mmMap", Neg(prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0)));
  long fd = syscall(SYS_memfd_create, "ckpt-check", MFD_CLOEXEC);
  o.Set("memfd", Neg(fd));
  if (fd >= 0) close((int)fd);
  fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  o.Set("userfaultfd", Neg(fd));
  if (fd >= 0) close((int)fd);
  int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
  long k = syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, probe, probe);
  o.Set("kcmp", k < 0 ? -errno : (k == 0 ? 0 : -EINVAL));
  close(probe);
  o.Set("seccomp", Neg(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)));
  // soft-dirty: clear the bits of this process, dirty one page, look at bit 55.
  int sd = -EOPNOTSUPP;
  char* page = (char*)mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page != MAP_FAILED) {
    page[0] = 1;
    int cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (cr >= 0) {
      if (write(cr, "4", 1) == 1) {
        page[0] = 2;
        int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        uint64_t pme = 0;
        if (pm >= 0 && pread(pm, &pme, 8, ((uint64_t)page / 4096) * 8) == 8 && (pme & (1ULL << 55))) sd = 0;
        if (pm >= 0) close(pm);
      } else {
        sd = -errno;
      }
      close(cr);
    }
    munmap(page, 4096);
  }
  o.Set("softDirty", sd);
  o.Set("aioRemap", ProbeAioRemap());
  o.Set("fdinfoLock", ProbeFdinfoLock());
  o.Set("timerfd", ProbeTimerfd());
  o.Set("sockoptBufLock", ProbeSockoptBufLock());
  o.Set("ipv6Freebind", ProbeIpv6Freebind());
  o.Set("tcpHalfClosed", ProbeTcpHalfClosed());
  return o;
}

// criu's has_kcmp_epoll_tfd: kcmp(KCMP_EPOLL_TFD) finds a pipe end registered in an epoll
int ProbeKcmpEpoll() {
  int ep = epoll_create1(EPOLL_CLOEXEC), p[2];
  if (ep < 0) return -errno;
  int r;
  if (pipe2(p, O_CLOEXEC) < 0) {
    r = -errno;
  } else {
    struct epoll_event ev = {EPOLLIN, {0}};
    struct kcmp_epoll_slot slot = {(uint32_t)ep, (uint32_t)p[0], 0};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0)
      r = -errno;
    else
      r = Neg(syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, p[0], &slot));
    close(p[0]);
    close(p[1]);
  }
  close(ep);
  return r;
}

// a guard page (MADV_GUARD_INSTALL) shows in /proc/PID/pagemap (bit 58), which is how dump finds them
int ProbeGuardPages() {
  const long kPg = 4096;
  char* m = (char*)mmap(nullptr, 2 * kPg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return -errno;
  int r = Neg(madvise(m + kPg, kPg, 102 /* MADV_GUARD_INSTALL */));
  if (r == 0) {
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    uint64_t pme[2] = {0, 0};
    if (pm < 0 || pread(pm, pme, 16, ((uint64_t)m / kPg) * 8) != 16) r = pm < 0 ? -errno : -EIO;
    else if ((pme[0] & (1ULL << 58)) || !(pme[1] & (1ULL << 58))) r = -EOPNOTSUPP;
    if (pm >= 0) close(pm);
  }
  munmap(m, 2 * kPg);
  return r;
}

// criu's kdat_can_map_vdso: in a child (a mapped vdso must not appear here), ARCH_MAP_VDSO_64 over
// the existing vdso fails with EEXIST when the request exists
int ProbeMapVdso() {
  pid_t pid = fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    long r = syscall(SYS_arch_prctl, 0x2003 /* ARCH_MAP_VDSO_64 */, 0);
    syscall(SYS_exit_group, r < 0 && errno == EEXIST ? 0 : 1);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return -errno;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EOPNOTSUPP;
}

// probeFeatures() -> {kcmpEpoll, memfdHugetlb, guardPages, mapVdso, timerCrIds}: 0 or -errno each
Napi::Value ProbeFeatures(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kcmpEpoll", ProbeKcmpEpoll());
  long fd = syscall(SYS_memfd_create, "ckpt-check", MFD_CLOEXEC | MFD_HUGETLB);
  o.Set("memfdHugetlb", Neg(fd));
  if (fd >= 0) close((int)fd);
  o.Set("guardPages", ProbeGuardPages());
  o.Set("mapVdso", ProbeMapVdso());
  o.Set("timerCrIds", Neg(prctl(77 /* PR_TIMER_CREATE_RESTORE_IDS */, 2 /* _GET */, 0, 0, 0)));
  return o;
}

}  // namespace

void InitProbes(Napi::Env env, Napi::Object exports) {
  exports.Set("probePtrace", Napi::Function::New(env, ProbePtrace));
  exports.Set("probeClone3SetTid", Napi::Function::New(env, ProbeClone3SetTid));
  exports.Set("probeSimple", Napi::Function::New(env, ProbeSimple));
  exports.Set("probeFeatures", Napi::Function::New(env, ProbeFeatures));
}

}  // namespace ckpt
