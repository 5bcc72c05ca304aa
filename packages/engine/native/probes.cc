// Kernel feature probes for `ckpt check`. Each probe runs the real syscall on a throwaway
// child or resource and reports 0 (works) or -errno.
#include "common.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
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

// criu's fdinfo_lock: a flock shows as a "lock:" line in the fdinfo of its fd (how the dump finds locks)
static int ProbeFdinfoLock() {
  char path[] = "/tmp/ckpt-lock-probe-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -errno;
  unlink(path);
  int r = -EOPNOTSUPP;
  if (flock(fd, LOCK_SH) < 0) {
    r = -errno;
  } else {
    char fi[64], buf[4096];
    snprintf(fi, sizeof fi, "/proc/self/fdinfo/%d", fd);
    int f = open(fi, O_RDONLY | O_CLOEXEC);
    ssize_t n = f >= 0 ? read(f, buf, sizeof buf - 1) : -1;
    if (f >= 0) close(f);
    if (n > 0) {
      buf[n] = 0;
      if (strstr(buf, "\nlock:")) r = 0;
    }
  }
  close(fd);
  return r;
}

// criu's aio_remap: an AIO ring moved by mremap still answers under its new address (the restore
// creates the ring anywhere, then moves it where the dumped one was)
static int ProbeAioRemap() {
  unsigned long ctx = 0;
  if (syscall(SYS_io_setup, 16, &ctx) < 0) return -errno;
  int r = 0;
  long len = 0;
  FILE* maps = fopen("/proc/self/maps", "re");
  char line[512];
  while (maps && fgets(line, sizeof line, maps)) {
    unsigned long s, e;
    if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s == ctx) len = (long)(e - s);
  }
  if (maps) fclose(maps);
  void* to = len ? mmap(nullptr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : MAP_FAILED;
  if (to == MAP_FAILED) {
    r = -ENOMEM;
  } else if (mremap((void*)ctx, len, len, MREMAP_FIXED | MREMAP_MAYMOVE, to) != to) {
    r = -errno;
    munmap(to, len);
  } else {
    ctx = (unsigned long)to;
    if (syscall(SYS_io_getevents, ctx, 0, 1, nullptr, nullptr) != 0) r = -EINVAL;
  }
  syscall(SYS_io_destroy, ctx);
  return r;
}

// probeSimple() -> {mmMap, memfd, userfaultfd, kcmp, seccomp, softDirty, fdinfoLock, aioRemap}
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
  o.Set("fdinfoLock", ProbeFdinfoLock());
  o.Set("aioRemap", ProbeAioRemap());
  return o;
}

}  // namespace

void InitProbes(Napi::Env env, Napi::Object exports) {
  exports.Set("probePtrace", Napi::Function::New(env, ProbePtrace));
  exports.Set("probeClone3SetTid", Napi::Function::New(env, ProbeClone3SetTid));
  exports.Set("probeSimple", Napi::Function::New(env, ProbeSimple));
}

}  // namespace ckpt
