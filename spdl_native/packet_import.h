// Packets as one flat block of plain data, for a demux helper process to hand
// them to the loading process through shared memory: the helper packs what its
// PyAV demux produced, the loader rebuilds the same Packets in one native call.
// Both ends run this same library, so the block needs no versioning beyond a
// magic number; the reader still checks every length, since the block comes
// from another process that hostile input may have corrupted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "packets.h"

namespace spdl {

// The size of the block `pack_into` writes for `packets`.
size_t packed_size(const std::vector<const Packets*>& packets);
// Writes the block of `packets` to `dst`, which holds `packed_size(packets)` bytes.
void pack_into(const std::vector<const Packets*>& packets, uint8_t* dst, size_t size);
// Packs `packets` into a new sealed memfd (Linux); returns its descriptor, which
// the caller owns.
int pack_to_memfd(const std::vector<const Packets*>& packets);
// This process could not get the memory to hold a block (a mapping, or a copy):
// the block and the process that wrote it are not at fault.
class LocalMemoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Rebuilds the Packets of the block held by the sealed memfd `fd` (not closed
// here), with the fields `Packets::add` sets from PyAV's packets; their bytes stay
// in one buffer that the packets share (a heap copy of a small block, the mapping
// of a large one). Throws LocalMemoryError (or std::bad_alloc) when this process
// is out of memory, std::runtime_error for a block that is not one `pack_into`
// wrote.
std::vector<std::unique_ptr<Packets>> unpack_from_fd(int fd);

}  // namespace spdl
