// Shared helpers for the native core. The core does syscalls and hands plain facts back;
// it knows nothing about image formats.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace ckpt {

// Throw a JS Error carrying errno (err.errno, err.code = "E...") and a message naming the call.
Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err = errno);

inline int64_t ArgInt(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsBigInt()) {
    bool lossless;
    return info[i].As<Napi::BigInt>().Int64Value(&lossless);
  }
  return info[i].As<Napi::Number>().Int64Value();
}

inline uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsBigInt()) {
    bool lossless;
    return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return (uint64_t)info[i].As<Napi::Number>().Int64Value();
}

inline Napi::BigInt U64(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

void InitPtrace(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitFiles(Napi::Env env, Napi::Object exports);
void InitProbes(Napi::Env env, Napi::Object exports);
void InitCpu(Napi::Env env, Napi::Object exports);
void InitSockDiag(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);
void InitTcpRepair(Napi::Env env, Napi::Object exports);
void InitSignals(Napi::Env env, Napi::Object exports);
void InitRtnl(Napi::Env env, Napi::Object exports);

}  // namespace ckpt
