// CPU facts for the register state: XCR0 and the xsave layout of CPUID leaf 0xD, as the CPU reports them.
// The offsets are the standard (non-compacted) format's, the one of ptrace's NT_X86_XSTATE and of the
// signal frame; the compacted form follows from the sizes and alignment bits (src/xsave.ts).
#include "common.h"

#include <cpuid.h>

namespace ckpt {
namespace {

constexpr unsigned kXsaveLeaf = 0xd;
constexpr unsigned kOsxsave = 1u << 27;  // CPUID.1:ECX: the OS enabled XSAVE, so XGETBV works

uint64_t Xgetbv0() {
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

// cpuXsave() -> { osxsave, xcr0, supported, size, maxSize, sub1Eax, xssSupported, xsavesSize,
//                 components: [{ bit, size, offset, supervisor, align64 }] }
// osxsave false (no XSAVE, or not enabled): xcr0 0 and no components; the FPU state is fxsave only.
// supported: CPUID.(0xD,0) EDX:EAX, the user components the CPU has; size: EBX, the standard-format size for
// what XCR0 enables; maxSize: ECX, for every supported one. sub1Eax: CPUID.(0xD,1) EAX (bit 1 XSAVEC,
// bit 3 XSAVES); xsavesSize: its EBX, the compacted size for XCR0 | IA32_XSS; xssSupported: its EDX:ECX.
// components: each supported component from 2 on: CPUID.(0xD,i) EAX size, EBX standard offset (0 for
// supervisor ones, which have none), ECX bit 0 supervisor, bit 1 64-byte aligned in the compacted form.
// cpuid(leaf, subleaf) -> [eax, ebx, ecx, edx] (zeros past the highest leaf of its range)
Napi::Value Cpuid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unsigned leaf = (unsigned)ArgInt(info, 0), sub = (unsigned)ArgInt(info, 1), a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(leaf & 0x80000000u, nullptr) >= leaf) __cpuid_count(leaf, sub, a, b, c, d);
  Napi::Array r = Napi::Array::New(env, 4);
  r.Set(0u, a); r.Set(1u, b); r.Set(2u, c); r.Set(3u, d);
  return r;
}

Napi::Value CpuXsave(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  Napi::Array comps = Napi::Array::New(env);
  o.Set("components", comps);
  unsigned a = 0, b = 0, c = 0, d = 0;
  bool osxsave = __get_cpuid_max(0, nullptr) >= kXsaveLeaf && __get_cpuid(1, &a, &b, &c, &d) && (c & kOsxsave);
  o.Set("osxsave", osxsave);
  if (!osxsave) {
    o.Set("xcr0", U64(env, 0));
    return o;
  }
  o.Set("xcr0", U64(env, Xgetbv0()));
  __cpuid_count(kXsaveLeaf, 0, a, b, c, d);
  uint64_t supported = ((uint64_t)d << 32) | a;
  o.Set("supported", U64(env, supported));
  o.Set("size", b);
  o.Set("maxSize", c);
  __cpuid_count(kXsaveLeaf, 1, a, b, c, d);
  uint64_t xss = ((uint64_t)d << 32) | c;
  o.Set("sub1Eax", a);
  o.Set("xsavesSize", b);
  o.Set("xssSupported", U64(env, xss));
  uint32_t n = 0;
  for (unsigned i = 2; i < 64; i++) {
    if (!((supported | xss) >> i & 1)) continue;
    __cpuid_count(kXsaveLeaf, i, a, b, c, d);
    Napi::Object e = Napi::Object::New(env);
    e.Set("bit", i);
    e.Set("size", a);
    e.Set("offset", b);
    e.Set("supervisor", (c & 1) != 0);
    e.Set("align64", (c & 2) != 0);
    comps.Set(n++, e);
  }
  return o;
}

}  // namespace

void InitCpu(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuXsave", Napi::Function::New(env, CpuXsave));
  exports.Set("cpuid", Napi::Function::New(env, Cpuid));
}

}  // namespace ckpt
