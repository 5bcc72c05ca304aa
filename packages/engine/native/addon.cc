// Entry point of the native core: registers the syscall wrappers of each module.
#include "common.h"

namespace ckpt {

Napi::Value ThrowErrno(Napi::Env env, const std::string& what, int err) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  const char* name = strerrorname_np(err);
  if (name) e.Set("code", Napi::String::New(env, name));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace ckpt

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ckpt::InitPtrace(env, exports);
  ckpt::InitMemory(env, exports);
  ckpt::InitFiles(env, exports);
  ckpt::InitProbes(env, exports);
  ckpt::InitCpu(env, exports);
  ckpt::InitSockDiag(env, exports);
  ckpt::InitSpawn(env, exports);
  ckpt::InitTcpRepair(env, exports);
  ckpt::InitSignals(env, exports);
  ckpt::InitRtnl(env, exports);
  return exports;
}

NODE_API_MODULE(ckpt_native, Init)
