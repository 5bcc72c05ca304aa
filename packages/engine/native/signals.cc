// Interruption of a dump (SIGINT, SIGTERM): the dump runs synchronously, so Node's own signal events would only
// come once it is over. A plain handler notes the first signal; the dump asks for it at each step
// (src/fault.ts) and rolls back as after any failure. SA_RESTART: the syscall it interrupts goes on.
#include "common.h"

#include <signal.h>

namespace ckpt {
namespace {

volatile sig_atomic_t pending = 0;
struct Trapped { int signo; struct sigaction old; };
Trapped trapped[8];
int nrTrapped = 0;

void OnSignal(int signo) {
  if (!pending) pending = signo;
}

// trapSignals([signo...]) -> 0 | -errno: each signal only noted from now on (untrapSignals puts the old actions back)
Napi::Value TrapSignals(const Napi::CallbackInfo& info) {
  Napi::Array sigs = info[0].As<Napi::Array>();
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (uint32_t i = 0; i < sigs.Length() && nrTrapped < 8; i++) {
    int signo = sigs.Get(i).As<Napi::Number>().Int32Value();
    if (sigaction(signo, &sa, &trapped[nrTrapped].old) < 0) return Napi::Number::New(info.Env(), -errno);
    trapped[nrTrapped++].signo = signo;
  }
  return Napi::Number::New(info.Env(), 0);
}

// untrapSignals() -> the signal noted meanwhile (0: none); the old actions are back
Napi::Value UntrapSignals(const Napi::CallbackInfo& info) {
  while (nrTrapped > 0) {
    nrTrapped--;
    sigaction(trapped[nrTrapped].signo, &trapped[nrTrapped].old, nullptr);
  }
  int s = pending;
  pending = 0;
  return Napi::Number::New(info.Env(), s);
}

// pendingSignal() -> the first trapped signal that came (0: none)
Napi::Value PendingSignal(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (int)pending);
}

}  // namespace

void InitSignals(Napi::Env env, Napi::Object exports) {
  exports.Set("trapSignals", Napi::Function::New(env, TrapSignals));
  exports.Set("untrapSignals", Napi::Function::New(env, UntrapSignals));
  exports.Set("pendingSignal", Napi::Function::New(env, PendingSignal));
}

}  // namespace ckpt
