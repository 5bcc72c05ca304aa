// Memory of a stopped task: which pages are present (/proc/PID/pagemap) and copying them in
// large batches (process_vm_readv, /proc/PID/mem where that cannot read) into an output fd.
#include "common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include <sys/syscall.h>
#include <sys/uio.h>

namespace ckpt {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kPresent = 1ULL << 63;
constexpr uint64_t kSwap = 1ULL << 62;
constexpr uint64_t kFile = 1ULL << 61;
constexpr uint64_t kGuard = 1ULL << 58;
constexpr uint64_t kPfnMask = (1ULL << 55) - 1;

std::string ProcPath(pid_t pid, const char* leaf) { return "/proc/" + std::to_string(pid) + "/" + leaf; }

// zeroPfn() -> bigint PFN of the shared zero page (pages mapped to it are never dumped).
Napi::Value ZeroPfn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ThrowErrno(env, "mmap");
  volatile char c = *(volatile char*)p;
  (void)c;
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  uint64_t pme = 0;
  if (fd >= 0) {
    if (pread(fd, &pme, 8, ((uint64_t)p / kPage) * 8) != 8) pme = 0;
    close(fd);
  }
  munmap(p, kPage);
  return U64(env, pme & kPfnMask);
}

// scanPages(pid, start, end, {all, skipFile, zeroPfn, guards}) -> BigUint64Array [addr, nrPages, ...]
// Runs of pages that must be dumped, following CRIU's rule: present or swapped, not the zero
// page, not page-cache pages of private file mappings (unless all = true, e.g. the vDSO).
// guards = true: the runs of guard pages (madvise MADV_GUARD_INSTALL) instead.
Napi::Value ScanPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  uint64_t start = ArgU64(info, 1), end = ArgU64(info, 2);
  Napi::Object opt = info[3].As<Napi::Object>();
  bool all = opt.Get("all").ToBoolean();
  bool skipFile = opt.Get("skipFile").ToBoolean();
  bool guards = opt.Has("guards") && opt.Get("guards").ToBoolean();
  bool lossless;
  uint64_t zeroPfn = opt.Has("zeroPfn") && opt.Get("zeroPfn").IsBigInt()
                         ? opt.Get("zeroPfn").As<Napi::BigInt>().Uint64Value(&lossless)
                         : 0;
  std::vector<uint64_t> runs;
  if (all) {
    runs.push_back(start);
    runs.push_back((end - start) / kPage);
  } else {
    int fd = open(ProcPath(pid, "pagemap").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ThrowErrno(env, "open pagemap");
    const size_t kBatch = 65536;
    std::vector<uint64_t> buf(kBatch);
    uint64_t runStart = 0, runLen = 0;
    for (uint64_t va = start; va < end;) {
      size_t n = std::min<uint64_t>(kBatch, (end - va) / kPage);
      ssize_t got = pread(fd, buf.data(), n * 8, (va / kPage) * 8);
      if (got <= 0) {
        int e = errno;
        close(fd);
        return ThrowErrno(env, "read pagemap", got == 0 ? EIO : e);
      }
      n = got / 8;
      for (size_t i = 0; i < n; i++, va += kPage) {
        uint64_t pme = buf[i];
        bool dump = guards ? (pme & kGuard) != 0 : (pme & (kPresent | kSwap)) && !(pme & kGuard);
        if (dump && skipFile && (pme & kFile)) dump = false;
        if (dump && (pme & kPresent) && zeroPfn && (pme & kPfnMask) == zeroPfn) dump = false;
        if (dump) {
          if (runLen && runStart + runLen * kPage == va) {
            runLen++;
          } else {
            if (runLen) {
              runs.push_back(runStart);
              runs.push_back(runLen);
            }
            runStart = va;
            runLen = 1;
          }
        }
      }
    }
    if (runLen) {
      runs.push_back(runStart);
      runs.push_back(runLen);
    }
    close(fd);
  }
  Napi::BigUint64Array out = Napi::BigUint64Array::New(env, runs.size());
  for (size_t i = 0; i < runs.size(); i++) out[i] = runs[i];
  return out;
}

// copyPages(pid, outFd, BigUint64Array [addr, nrPages, ...], progress?) -> bytes written
// progress(done, total), in bytes, is called on this thread every kReport bytes read and
// once at the end; if it throws, the copy stops and the exception is what the caller gets.
// One user-space copy each way, overlapped: this thread reads the target's pages with
// process_vm_readv (no bounce page, unlike /proc/PID/mem) into a ring of buffers while a writer
// thread write()s the filled ones to outFd. A range process_vm_readv cannot read (PROT_NONE) is
// read again through /proc/PID/mem, which works on a stopped tracee through any protection.
// The writer thread only writes to a file; every ptrace call stays on the caller's thread.
Napi::Value CopyPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  int out = (int)ArgInt(info, 1);
  Napi::BigUint64Array runsArr = info[2].As<Napi::BigUint64Array>();
  std::vector<uint64_t> runs(runsArr.Data(), runsArr.Data() + runsArr.ElementLength());
  Napi::Function progress = info.Length() > 3 && info[3].IsFunction() ? info[3].As<Napi::Function>() : Napi::Function();
  constexpr uint64_t kReport = 64 << 20;
  uint64_t reported = 0;
  bool threw = false;

  constexpr size_t kBufs = 4, kBuf = 4 << 20, kIov = 1024;
  char* mem = (char*)mmap(nullptr, kBufs * kBuf, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) return ThrowErrno(env, "mmap");
  int memFd = -1;
  // Reserve the blocks first: ext4's delayed allocation then skips its per-block reservation
  // work in write() (measured here: 512 MiB written in ~0.05 s instead of ~0.085 s). Best effort.
  uint64_t bytes = 0;
  for (size_t i = 1; i < runs.size(); i += 2) bytes += runs[i] * kPage;
  off_t base = lseek(out, 0, SEEK_CUR);
  if (bytes && base >= 0) (void)fallocate(out, 0, base, (off_t)bytes);

  std::mutex mu;
  std::condition_variable cv;
  size_t fill[kBufs] = {0};  // bytes ready in buffer i (0 = free)
  size_t head = 0, tail = 0;  // next to fill / next to write
  bool done = false;
  int werr = 0;

  // Buffered writes first. When filling page-cache pages turns out slower than the disk itself
  // (over the last kWin chunks), the rest goes with O_DIRECT from the ring: no new page-cache
  // pages. On this VM, free memory left alone for a few seconds is handed back to the host (free
  // page reporting), and page-cache pages made from it fill at ~0.4 GB/s instead of ~8-10; the
  // disk takes ~2.5 GB/s. Buffers, sizes and offsets are page aligned; a file system that refuses
  // O_DIRECT keeps buffered writes.
  constexpr size_t kWin = 4;  // chunks
  constexpr double kSlowBytesPerSec = 2e9;
  const int flags0 = fcntl(out, F_GETFL);
  bool direct = false, directRefused = flags0 < 0;
  double winSecs[kWin] = {0}, winBytes[kWin] = {0};
  size_t nwin = 0;
  std::thread writer([&] {
    for (;;) {
      size_t n;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return tail < head || done; });
        if (tail == head) return;
        n = fill[tail % kBufs];
      }
      char* b = mem + (tail % kBufs) * kBuf;
      size_t put = 0;
      int e = 0;
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      while (put < n) {
        ssize_t w = write(out, b + put, n - put);
        if (w < 0) {
          if (errno == EINTR) continue;
          if (errno == EINVAL && direct) {  // alignment this file system will not take
            direct = false;
            directRefused = true;
            fcntl(out, F_SETFL, flags0);
            continue;
          }
          e = errno;
          break;
        }
        put += w;
      }
      if (!direct && !directRefused) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        winSecs[nwin % kWin] = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        winBytes[nwin % kWin] = (double)n;
        if (++nwin >= kWin) {
          double secs = 0, bytes = 0;
          for (size_t k = 0; k < kWin; k++) secs += winSecs[k], bytes += winBytes[k];
          if (bytes >= kWin * kBuf / 2 && bytes / secs < kSlowBytesPerSec) {  // big writes only
            direct = fcntl(out, F_SETFL, flags0 | O_DIRECT) == 0;
            directRefused = !direct;
          }
        }
      }
      std::lock_guard<std::mutex> lk(mu);
      fill[tail % kBufs] = 0;
      tail++;
      if (e && !werr) werr = e;
      cv.notify_all();
      if (werr) return;
    }
  });

  uint64_t total = 0;
  int err = 0;
  std::string what;
  size_t ri = 0;          // current run
  uint64_t roff = 0;      // bytes of the current run already taken
  struct iovec local, remote[kIov];
  while (ri + 1 < runs.size() && !err) {
    {
      std::unique_lock<std::mutex> lk(mu);
      cv.wait(lk, [&] { return head - tail < kBufs || werr; });
      if (werr) break;
    }
    char* b = mem + (head % kBufs) * kBuf;
    // gather up to kBuf bytes of runs into this buffer
    size_t nio = 0, want = 0;
    while (ri + 1 < runs.size() && want < kBuf && nio < kIov) {
      uint64_t len = runs[ri + 1] * kPage - roff;
      uint64_t take = std::min<uint64_t>(len, kBuf - want);
      remote[nio].iov_base = (void*)(uintptr_t)(runs[ri] + roff);
      remote[nio].iov_len = take;
      nio++;
      want += take;
      roff += take;
      if (roff == runs[ri + 1] * kPage) {
        ri += 2;
        roff = 0;
      }
    }
    local.iov_base = b;
    local.iov_len = want;
    ssize_t got = process_vm_readv(pid, &local, 1, remote, nio, 0);
    if (got < 0) got = 0;
    if ((size_t)got < want) {
      // the rest through /proc/PID/mem, iovec by iovec
      if (memFd < 0) memFd = open(ProcPath(pid, "mem").c_str(), O_RDONLY | O_CLOEXEC);
      if (memFd < 0) {
        err = errno;
        what = "open mem";
        break;
      }
      size_t pos = 0;
      for (size_t k = 0; k < nio && !err; k++) {
        size_t l = remote[k].iov_len;
        if (pos + l <= (size_t)got) {
          pos += l;
          continue;
        }
        size_t skip = (size_t)got > pos ? (size_t)got - pos : 0;
        size_t have = skip;
        uint64_t base = (uint64_t)(uintptr_t)remote[k].iov_base;
        while (have < l) {
          ssize_t r = pread(memFd, b + pos + have, l - have, (off_t)(base + have));
          if (r <= 0) {
            err = r == 0 ? EIO : errno;
            char s[32];
            snprintf(s, sizeof s, "%llx", (unsigned long long)(base + have));
            what = std::string("read memory at 0x") + s;
            break;
          }
          have += r;
        }
        pos += l;
      }
      if (err) break;
    }
    total += want;
    {
      std::lock_guard<std::mutex> lk(mu);
      fill[head % kBufs] = want;
      head++;
      cv.notify_all();
    }
    if (!progress.IsEmpty() && total - reported >= kReport) {
      reported = total;
      progress.Call({Napi::Number::New(env, (double)total), Napi::Number::New(env, (double)bytes)});
      if (env.IsExceptionPending()) {
        threw = true;
        break;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lk(mu);
    done = true;
    cv.notify_all();
  }
  writer.join();
  if (direct) fcntl(out, F_SETFL, flags0);
  munmap(mem, kBufs * kBuf);
  if (memFd >= 0) close(memFd);
  if (threw) return env.Undefined();
  if (err) return ThrowErrno(env, what, err);
  if (werr) return ThrowErrno(env, "write pages", werr);
  if (!progress.IsEmpty() && reported) {
    progress.Call({Napi::Number::New(env, (double)total), Napi::Number::New(env, (double)bytes)});
    if (env.IsExceptionPending()) return env.Undefined();
  }
  return Napi::Number::New(env, (double)total);
}

// readMem(pid, addr, len) -> Buffer
Napi::Value ReadMem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  uint64_t addr = ArgU64(info, 1);
  size_t len = (size_t)ArgInt(info, 2);
  int mem = open(ProcPath(pid, "mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) return ThrowErrno(env, "open mem");
  Napi::Buffer<char> b = Napi::Buffer<char>::New(env, len);
  ssize_t r = pread(mem, b.Data(), len, (off_t)addr);
  int e = errno;
  close(mem);
  if (r != (ssize_t)len) return ThrowErrno(env, "read memory", r < 0 ? e : EIO);
  return b;
}

// mrelease(pid) -> 0 | -errno. After SIGKILL: process_mrelease(2) frees the dying task's memory in
// this thread while the task's own exit path frees it too, so it is gone sooner (512 MiB here:
// ~22 ms instead of ~37 ms). Best effort: the caller still waits for the task.
Napi::Value Mrelease(const Napi::CallbackInfo& info) {
  pid_t pid = (pid_t)ArgInt(info, 0);
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return Napi::Number::New(info.Env(), -errno);
#ifndef SYS_process_mrelease
#define SYS_process_mrelease 448
#endif
  long r = syscall(SYS_process_mrelease, fd, 0);
  int e = errno;
  close(fd);
  return Napi::Number::New(info.Env(), r < 0 ? -e : 0);
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("zeroPfn", Napi::Function::New(env, ZeroPfn));
  exports.Set("scanPages", Napi::Function::New(env, ScanPages));
  exports.Set("copyPages", Napi::Function::New(env, CopyPages));
  exports.Set("readMem", Napi::Function::New(env, ReadMem));
  exports.Set("mrelease", Napi::Function::New(env, Mrelease));
}

}  // namespace ckpt
