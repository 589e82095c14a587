// Where a subscriber parses the EventBatches it reads: one arena, emptied before each batch.
#pragma once

#include <vector>

#include <google/protobuf/arena.h>

#include "vajra/v1/vajra.pb.h"

namespace vajra {

// Each batch is parsed into the arena and dropped whole. A reused message would free and allocate
// every event's nested messages and strings one by one on each read (in the bridge, when it still
// parsed every batch, those frees and allocations were about a quarter of its samples). The arena keeps its first block across batches;
// a batch is at most about 1 MiB on the wire and a few times that parsed.
class BatchArena {
 public:
  BatchArena();
  BatchArena(const BatchArena&) = delete;
  BatchArena& operator=(const BatchArena&) = delete;

  // An empty batch to read into; the one handed out before is gone.
  v1::EventBatch* fresh();

 private:
  static constexpr size_t kBlock = 1 << 20;
  std::vector<char> first_block_;  // declared before arena_: it must outlive it
  google::protobuf::Arena arena_;
};

}  // namespace vajra
