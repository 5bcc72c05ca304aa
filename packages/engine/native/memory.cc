// Memory of a stopped task: which pages are present (/proc/PID/pagemap) and copying them in
// large batches from /proc/PID/mem straight into an output fd.
#include "common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

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

// scanPages(pid, start, end, {all, skipFile, zeroPfn}) -> BigUint64Array [addr, nrPages, ...]
// Runs of pages that must be dumped, following CRIU's rule: present or swapped, not the zero
// page, not page-cache pages of private file mappings (unless all = true, e.g. the vDSO).
Napi::Value ScanPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  uint64_t start = ArgU64(info, 1), end = ArgU64(info, 2);
  Napi::Object opt = info[3].As<Napi::Object>();
  bool all = opt.Get("all").ToBoolean();
  bool skipFile = opt.Get("skipFile").ToBoolean();
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
        bool dump = (pme & (kPresent | kSwap)) && !(pme & kGuard);
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

// copyPages(pid, outFd, BigUint64Array [addr, nrPages, ...]) -> bytes written
// pread(/proc/PID/mem) works on a stopped tracee even through PROT_NONE.
Napi::Value CopyPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = (pid_t)ArgInt(info, 0);
  int out = (int)ArgInt(info, 1);
  Napi::BigUint64Array runs = info[2].As<Napi::BigUint64Array>();
  int mem = open(ProcPath(pid, "mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) return ThrowErrno(env, "open mem");
  const size_t kChunk = 16 << 20;
  char* buf = (char*)mmap(nullptr, kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) {
    close(mem);
    return ThrowErrno(env, "mmap");
  }
  uint64_t total = 0;
  int err = 0;
  std::string what;
  for (size_t i = 0; i + 1 < runs.ElementLength() && !err; i += 2) {
    uint64_t addr = runs[i], left = runs[i + 1] * kPage;
    while (left && !err) {
      size_t n = std::min<uint64_t>(left, kChunk);
      size_t got = 0;
      while (got < n) {
        ssize_t r = pread(mem, buf + got, n - got, (off_t)(addr + got));
        if (r <= 0) {
          err = r == 0 ? EIO : errno;
          what = "read memory at 0x" + ([](uint64_t v) { char s[32]; snprintf(s, sizeof s, "%llx", (unsigned long long)v); return std::string(s); })(addr + got);
          break;
        }
        got += r;
      }
      size_t put = 0;
      while (!err && put < n) {
        ssize_t w = write(out, buf + put, n - put);
        if (w < 0) {
          if (errno == EINTR) continue;
          err = errno;
          what = "write pages";
          break;
        }
        put += w;
      }
      addr += n;
      left -= n;
      total += n;
    }
  }
  munmap(buf, kChunk);
  close(mem);
  if (err) return ThrowErrno(env, what, err);
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

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("zeroPfn", Napi::Function::New(env, ZeroPfn));
  exports.Set("scanPages", Napi::Function::New(env, ScanPages));
  exports.Set("copyPages", Napi::Function::New(env, CopyPages));
  exports.Set("readMem", Napi::Function::New(env, ReadMem));
}

}  // namespace ckpt
