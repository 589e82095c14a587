#include "batch_arena.h"

namespace vajra {
namespace {

google::protobuf::ArenaOptions options_for(std::vector<char>& first_block, size_t max_block) {
  google::protobuf::ArenaOptions options;
  options.initial_block = first_block.data();
  options.initial_block_size = first_block.size();
  options.max_block_size = max_block;
  return options;
}

}  // namespace

BatchArena::BatchArena() : first_block_(kBlock), arena_(options_for(first_block_, kBlock)) {}

v1::EventBatch* BatchArena::fresh() {
  arena_.Reset();
  return google::protobuf::Arena::CreateMessage<v1::EventBatch>(&arena_);
}

}  // namespace vajra
