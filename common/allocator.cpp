// vajrad's and vajra.ext's heap is jemalloc, linked in place of glibc's malloc (docs/architecture.md).
//
// Why: both make many small objects on one thread and free them on another. In vajrad, events are
// made on the decode thread and freed by the publish thread, gRPC's writers and the replay ring, about
// 54 allocations per event; in the bridge, rows are built on the stream thread and freed when
// retention evicts them or a query's copy goes. glibc's per-thread caches hold only 7 chunks per size,
// so this pattern takes the arena lock on most calls, and each request of 1 KiB or more (an event's
// cached process image and ancestry) first consolidates every freed small chunk. jemalloc returns
// freed memory to the owning arena in batches. Measured (docs/benchmarks.md): vajrad's CPU per
// published event 6.0 → 3.9 µs in the file storm and 4.2 → 2.6 µs in the network storm; the bridge's
// CPU per event 26 → 20 µs. vajractl links it too: `events -o json` allocates a tree of nodes per
// event in protobuf's JSON printer, and glibc's malloc and free were 35 % of its samples; with
// jemalloc its CPU in an exec storm fell by a quarter (1.79 → 1.36 s, 4 interleaved pairs).
//
// jemalloc reads these options at its first allocation from this symbol in the executable:
//   narenas:1          one arena, not four per CPU: fewer partly used arenas, lower peak RSS. The
//                      threads that allocate are few and each has its own cache in front of the
//                      arena; against narenas:2, vajrad's peak RSS in the file storm was 2-4 MiB lower
//                      with the same CPU per event (3 interleaved pairs)
//   dirty_decay_ms     freed pages go back to the kernel over jemalloc's default 10 s, and then at once
//   muzzy_decay_ms     (no lazy-free stage). A 1 s decay kept the storms' peak RSS lower while
//                      vajrad's queues held protobuf messages (file storm 96 → 82 MiB), but pages it
//                      returned mid-storm were faulted in again: 4-7 % of the decode thread's samples.
//                      Since the hub keeps serialized bytes instead, 10 s costs 4-6 MiB of peak RSS
//                      and saves CPU (interleaved pairs, medians: exec storm 218 → 196 ms, 6 pairs;
//                      watched file storm 2,020 → 1,875 ms, 4 pairs; peak RSS 60 → 66 and 64 → 68 MiB)
extern "C" {
const char* malloc_conf = "narenas:1,dirty_decay_ms:10000,muzzy_decay_ms:0";
}
