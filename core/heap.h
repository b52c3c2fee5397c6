// SPDX-License-Identifier: MIT
// WS_HEAP: an arena that WsDecodeUrl allocates its results on. Single-threaded.
#pragma once

#include <webservices.h>

#include <cstddef>
#include <cstdint>
#include <vector>

struct _WS_HEAP {
  static constexpr std::uint32_t live_magic = 0x57534850;  // "WSHP"
  std::uint32_t magic = live_magic;
  std::size_t max_size = 0;
  std::size_t trim_size = 0;
  std::size_t used = 0;  // bytes handed out since the last reset
  std::vector<void*> blocks;

  // Aligned storage, or nullptr when max_size would be exceeded or memory ran out.
  void* allocate(std::size_t size) noexcept;
  void release_all() noexcept;
  ~_WS_HEAP() { release_all(); }
};
