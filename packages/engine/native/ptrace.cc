// ptrace: seize/interrupt/continue/detach, waiting, register sets, signal state, and
// running one syscall inside a stopped tracee (ENGINE-NOTES §2.1).
// Every call is synchronous and must be made from the thread that seized the task.
#include "common.h"

#include <elf.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA 0x420d
#endif
#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

namespace ckpt {
namespace {

long Pt(int req, pid_t pid, void* addr, void* data) {
  errno = 0;
  return ptrace((enum __ptrace_request)req, pid, addr, data);
}

// seize(pid) -> 0 | -errno. No options (ENGINE-NOTES §1.1).
Napi::Value Seize(const Napi::CallbackInfo& info) {
  pid_t pid = (pid_t)ArgInt(info, 0);
  long opts = info.Length() > 1 ? (long)ArgInt(info, 1) : 0;
  long r = Pt(PTRACE_SEIZE, pid, nullptr, (void*)opts);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

// Generic "simple request" wrappers returning 0 | -errno.
Napi::Value Interrupt(const Napi::CallbackInfo& info) {
  long r = Pt(PTRACE_INTERRUPT, (pid_t)ArgInt(info, 0), nullptr, nullptr);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}
Napi::Value Cont(const Napi::CallbackInfo& info) {
  long sig = info.Length() > 1 ? (long)ArgInt(info, 1) : 0;
  long r = Pt(PTRACE_CONT, (pid_t)ArgInt(info, 0), nullptr, (void*)sig);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}
Napi::Value Detach(const Napi::CallbackInfo& info) {
  long sig = info.Length() > 1 ? (long)ArgInt(info, 1) : 0;
  long r = Pt(PTRACE_DETACH, (pid_t)ArgInt(info, 0), nullptr, (void*)sig);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}
Napi::Value SetOptions(const Napi::CallbackInfo& info) {
  long r = Pt(PTRACE_SETOPTIONS, (pid_t)ArgInt(info, 0), nullptr, (void*)ArgInt(info, 1));
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}
Napi::Value Kill(const Napi::CallbackInfo& info) {
  int r = kill((pid_t)ArgInt(info, 0), (int)ArgInt(info, 1));
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

// wait(pid, timeoutMs, flags) -> {pid, status} ; pid 0 on timeout, -errno on failure.
// Polls with WNOHANG so a task stuck in D state cannot hang the dumper.
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  int64_t timeoutMs = info.Length() > 1 ? ArgInt(info, 1) : 10000;
  int extra = info.Length() > 2 ? (int)ArgInt(info, 2) : 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int status = 0;
  pid_t r;
  long spins = 0;
  for (;;) {
    r = waitpid(pid, &status, __WALL | WNOHANG | extra);
    if (r != 0) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (ms >= timeoutMs) break;
    if (++spins > 200) {
      struct timespec ts = {0, 200000};
      nanosleep(&ts, nullptr);
    } else {
      sched_yield();
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, r < 0 ? -errno : r));
  o.Set("status", Napi::Number::New(env, status));
  return o;
}

// getSiginfo(pid) -> {signo, code, errno} | null
Napi::Value GetSiginfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  if (Pt(PTRACE_GETSIGINFO, (pid_t)ArgInt(info, 0), nullptr, &si) < 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("signo", si.si_signo);
  o.Set("code", si.si_code);
  o.Set("errno", si.si_errno);
  return o;
}

Napi::Value GetRegset(pid_t pid, Napi::Env env, int type, size_t size, const char* what) {
  std::string buf(size, '\0');
  struct iovec iov = {buf.data(), size};
  if (Pt(PTRACE_GETREGSET, pid, (void*)(long)type, &iov) < 0) return ThrowErrno(env, what);
  return Napi::Buffer<char>::Copy(env, buf.data(), iov.iov_len);
}

// getRegs(pid) -> Buffer(struct user_regs_struct); iov_len tells native (216) vs compat.
Napi::Value GetRegs(const Napi::CallbackInfo& info) {
  return GetRegset((pid_t)ArgInt(info, 0), info.Env(), NT_PRSTATUS, sizeof(user_regs_struct),
                   "PTRACE_GETREGSET(NT_PRSTATUS)");
}
// getXstate(pid) -> Buffer (xsave area as the kernel reports it)
Napi::Value GetXstate(const Napi::CallbackInfo& info) {
  return GetRegset((pid_t)ArgInt(info, 0), info.Env(), NT_X86_XSTATE, 16384,
                   "PTRACE_GETREGSET(NT_X86_XSTATE)");
}
// getFpregs(pid) -> Buffer(512) legacy fxsave area
Napi::Value GetFpregs(const Napi::CallbackInfo& info) {
  return GetRegset((pid_t)ArgInt(info, 0), info.Env(), NT_PRFPREG, sizeof(user_fpregs_struct),
                   "PTRACE_GETREGSET(NT_PRFPREG)");
}

Napi::Value GetSigmask(const Napi::CallbackInfo& info) {
  uint64_t mask = 0;
  if (Pt(PTRACE_GETSIGMASK, (pid_t)ArgInt(info, 0), (void*)sizeof(mask), &mask) < 0)
    return ThrowErrno(info.Env(), "PTRACE_GETSIGMASK");
  return U64(info.Env(), mask);
}

struct RseqConf {
  uint64_t rseq_abi_pointer;
  uint32_t rseq_abi_size;
  uint32_t signature;
  uint32_t flags;
  uint32_t pad;
};

// rseqConfig(pid) -> {ptr, size, sig, flags} (size 0 when not registered)
Napi::Value RseqConfig(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RseqConf c;
  memset(&c, 0, sizeof(c));
  if (Pt(PTRACE_GET_RSEQ_CONFIGURATION, (pid_t)ArgInt(info, 0), (void*)sizeof(c), &c) < 0)
    return ThrowErrno(env, "PTRACE_GET_RSEQ_CONFIGURATION");
  Napi::Object o = Napi::Object::New(env);
  o.Set("ptr", U64(env, c.rseq_abi_pointer));
  o.Set("size", c.rseq_abi_size);
  o.Set("sig", c.signature);
  o.Set("flags", c.flags);
  return o;
}

// peekSiginfo(pid, shared) -> Buffer[] of 128-byte siginfos queued for the thread / process
Napi::Value PeekSiginfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  bool shared = info.Length() > 1 && info[1].ToBoolean();
  Napi::Array out = Napi::Array::New(env);
  struct {
    uint64_t off;
    uint32_t flags;
    int32_t nr;
  } args = {0, shared ? 1u : 0u, 32};
  siginfo_t sis[32];
  for (;;) {
    long n = Pt(PTRACE_PEEKSIGINFO, pid, &args, sis);
    if (n < 0) return ThrowErrno(env, "PTRACE_PEEKSIGINFO");
    for (long i = 0; i < n; i++) out.Set(out.Length(), Napi::Buffer<char>::Copy(env, (char*)&sis[i], sizeof(siginfo_t)));
    if (n < args.nr) break;
    args.off += n;
  }
  return out;
}

// pokeWord / peekWord for small patches (JS reads memory in bulk through /proc/PID/mem).
Napi::Value PeekWord(const Napi::CallbackInfo& info) {
  long v = Pt(PTRACE_PEEKDATA, (pid_t)ArgInt(info, 0), (void*)ArgU64(info, 1), nullptr);
  if (errno) return ThrowErrno(info.Env(), "PTRACE_PEEKDATA");
  return U64(info.Env(), (uint64_t)v);
}

// injectSyscall(pid, addr, nr, [a0..a5]) -> bigint result (raw rax; -errno on failure in the task)
// The task must be in a ptrace stop. Everything touched (regs, sigmask, 8 code bytes) is put back
// before returning, also on failure.
Napi::Value InjectSyscall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  uint64_t addr = ArgU64(info, 1);
  uint64_t nr = ArgU64(info, 2);
  uint64_t a[6] = {0, 0, 0, 0, 0, 0};
  if (info.Length() > 3 && info[3].IsArray()) {
    Napi::Array arr = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length() && i < 6; i++) {
      Napi::Value v = arr.Get(i);
      bool lossless;
      a[i] = v.IsBigInt() ? v.As<Napi::BigInt>().Uint64Value(&lossless) : (uint64_t)v.As<Napi::Number>().Int64Value();
    }
  }

  user_regs_struct saved, regs;
  struct iovec iov = {&saved, sizeof(saved)};
  if (Pt(PTRACE_GETREGSET, pid, (void*)NT_PRSTATUS, &iov) < 0) return ThrowErrno(env, "inject: GETREGSET");
  uint64_t savedMask = 0;
  if (Pt(PTRACE_GETSIGMASK, pid, (void*)sizeof(savedMask), &savedMask) < 0) return ThrowErrno(env, "inject: GETSIGMASK");
  long origCode = Pt(PTRACE_PEEKDATA, pid, (void*)addr, nullptr);
  if (errno) return ThrowErrno(env, "inject: PEEKDATA");

  const uint64_t code = 0xcccccccccccc050fULL;  // syscall; int3 x6
  int fail = 0;
  std::string failWhat;
  uint64_t result = 0;

  if (Pt(PTRACE_POKEDATA, pid, (void*)addr, (void*)code) < 0) return ThrowErrno(env, "inject: POKEDATA");

  regs = saved;
  regs.rax = nr;
  regs.rdi = a[0];
  regs.rsi = a[1];
  regs.rdx = a[2];
  regs.r10 = a[3];
  regs.r8 = a[4];
  regs.r9 = a[5];
  regs.rip = addr;
  regs.orig_rax = (uint64_t)-1;
  regs.eflags &= ~(0x100ULL | 0x400ULL);  // TF, DF
  uint64_t blockAll = ~(1ULL << (SIGTRAP - 1));
  struct iovec riov = {&regs, sizeof(regs)};
  if (Pt(PTRACE_SETREGSET, pid, (void*)NT_PRSTATUS, &riov) < 0) {
    fail = errno;
    failWhat = "inject: SETREGSET";
  } else if (Pt(PTRACE_SETSIGMASK, pid, (void*)sizeof(blockAll), &blockAll) < 0) {
    fail = errno;
    failWhat = "inject: SETSIGMASK";
  } else if (Pt(PTRACE_CONT, pid, nullptr, nullptr) < 0) {
    fail = errno;
    failWhat = "inject: CONT";
  } else {
    int status = 0;
    pid_t w = waitpid(pid, &status, __WALL);
    if (w != pid) {
      fail = errno ? errno : ESRCH;
      failWhat = "inject: wait";
    } else if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
      fail = EIO;
      failWhat = "inject: unexpected stop status " + std::to_string(status);
    } else {
      siginfo_t si;
      if (Pt(PTRACE_GETSIGINFO, pid, nullptr, &si) < 0 || si.si_code != 0x80) {
        fail = EIO;
        failWhat = "inject: trap was not the injected int3";
      }
      user_regs_struct after;
      struct iovec aiov = {&after, sizeof(after)};
      if (Pt(PTRACE_GETREGSET, pid, (void*)NT_PRSTATUS, &aiov) < 0) {
        fail = errno;
        failWhat = "inject: GETREGSET after";
      } else {
        result = after.rax;
      }
    }
  }

  // Put everything back, whatever happened.
  int restoreErr = 0;
  iov = {&saved, sizeof(saved)};
  if (Pt(PTRACE_SETREGSET, pid, (void*)NT_PRSTATUS, &iov) < 0) restoreErr = errno;
  if (Pt(PTRACE_SETSIGMASK, pid, (void*)sizeof(savedMask), &savedMask) < 0) restoreErr = errno;
  if (Pt(PTRACE_POKEDATA, pid, (void*)addr, (void*)origCode) < 0) restoreErr = errno;
  if (fail) return ThrowErrno(env, failWhat, fail);
  if (restoreErr) return ThrowErrno(env, "inject: restoring task state", restoreErr);
  return U64(env, result);
}


// threadArea(tid, entry) -> Buffer (16-byte struct user_desc) | null when unsupported
Napi::Value ThreadArea(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t desc[4] = {0, 0, 0, 0};
  long entry = (long)ArgInt(info, 1);
  if (Pt(PTRACE_GET_THREAD_AREA, (pid_t)ArgInt(info, 0), (void*)entry, desc) < 0) return env.Null();
  return Napi::Buffer<char>::Copy(env, (char*)desc, sizeof(desc));
}

// seccompFilters(tid) -> {filters: Buffer[] (newest first, raw sock_filter arrays), flags: number[]}
// or {error: errno} when the filters cannot be read.
Napi::Value SeccompFilters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = (pid_t)ArgInt(info, 0);
  Napi::Object o = Napi::Object::New(env);
  Napi::Array filters = Napi::Array::New(env);
  Napi::Array flags = Napi::Array::New(env);
  for (unsigned long i = 0;; i++) {
    long n = Pt(PTRACE_SECCOMP_GET_FILTER, tid, (void*)i, nullptr);
    if (n < 0) {
      if (errno == ENOENT) break;
      o.Set("error", Napi::Number::New(env, errno));
      return o;
    }
    std::vector<char> buf((size_t)n * 8);
    if (Pt(PTRACE_SECCOMP_GET_FILTER, tid, (void*)i, buf.data()) < 0) {
      o.Set("error", Napi::Number::New(env, errno));
      return o;
    }
    struct { uint64_t filter_off; uint64_t flags; } meta = {i, 0};
    if (Pt(PTRACE_SECCOMP_GET_METADATA, tid, (void*)sizeof(meta), &meta) < 0) meta.flags = 0;
    filters.Set(filters.Length(), Napi::Buffer<char>::Copy(env, buf.data(), buf.size()));
    flags.Set(flags.Length(), Napi::Number::New(env, (double)meta.flags));
  }
  o.Set("filters", filters);
  o.Set("flags", flags);
  return o;
}

}  // namespace

void InitPtrace(Napi::Env env, Napi::Object exports) {
  exports.Set("seize", Napi::Function::New(env, Seize));
  exports.Set("interrupt", Napi::Function::New(env, Interrupt));
  exports.Set("cont", Napi::Function::New(env, Cont));
  exports.Set("detach", Napi::Function::New(env, Detach));
  exports.Set("setOptions", Napi::Function::New(env, SetOptions));
  exports.Set("kill", Napi::Function::New(env, Kill));
  exports.Set("wait", Napi::Function::New(env, Wait));
  exports.Set("getSiginfo", Napi::Function::New(env, GetSiginfo));
  exports.Set("getRegs", Napi::Function::New(env, GetRegs));
  exports.Set("getXstate", Napi::Function::New(env, GetXstate));
  exports.Set("getFpregs", Napi::Function::New(env, GetFpregs));
  exports.Set("getSigmask", Napi::Function::New(env, GetSigmask));
  exports.Set("rseqConfig", Napi::Function::New(env, RseqConfig));
  exports.Set("peekSiginfo", Napi::Function::New(env, PeekSiginfo));
  exports.Set("peekWord", Napi::Function::New(env, PeekWord));
  exports.Set("injectSyscall", Napi::Function::New(env, InjectSyscall));
  exports.Set("threadArea", Napi::Function::New(env, ThreadArea));
  exports.Set("seccompFilters", Napi::Function::New(env, SeccompFilters));
}

}  // namespace ckpt
