{
  "targets": [
    {
      "target_name": "ckpt_native",
      "sources": [
        "packages/engine/native/addon.cc",
        "packages/engine/native/ptrace.cc",
        "packages/engine/native/memory.cc",
        "packages/engine/native/files.cc",
        "packages/engine/native/probes.cc",
        "packages/engine/native/cpu.cc",
        "packages/engine/native/sockdiag.cc",
        "packages/engine/native/spawn.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
