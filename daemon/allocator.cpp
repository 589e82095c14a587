// vajrad's heap is jemalloc, linked in place of glibc's malloc (see docs/architecture.md).
//
// Why: events are made on the decode thread and freed on others (the publish thread, gRPC's writers,
// the hub's replay ring), about 54 allocations per event. glibc's per-thread caches hold only 7 chunks
// per size, so this producer/consumer pattern takes the arena lock on most calls, and every request of
// 1 KiB or more (an event's cached process image and ancestry) first consolidates all freed small
// chunks. In the file-watched storm that was a third of vajrad's CPU. jemalloc returns freed memory to
// the owning arena in batches: vajrad's CPU per published event fell from 6.0 to 3.9 µs in the file
// storm and from 4.2 to 2.6 µs in the network storm (docs/benchmarks.md).
//
// jemalloc reads these options at its first allocation from this symbol in the executable:
//   narenas:2          one arena per CPU of the 2-core hosts we measure on, not four per CPU: fewer
//                      partly used arenas, lower peak RSS; the threads that allocate are few
//   dirty_decay_ms     freed pages go back to the kernel after ~1 s, not the default 10 s, so a storm's
//   muzzy_decay_ms     queues do not stay resident long after it (peak RSS in the file storm 96 → 82 MiB)
extern "C" {
const char* malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
