{
  "targets": [
    {
      "target_name": "ckpt_native",
      "sources": [
        "native/addon.cc",
        "native/ptrace.cc",
        "native/memory.cc",
        "native/files.cc",
        "native/probes.cc",
        "native/cpu.cc",
        "native/sockdiag.cc",
        "native/spawn.cc",
        "native/tcp-repair.cc",
        "native/signals.cc",
        "native/rtnl.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
