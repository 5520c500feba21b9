// V8 flags the broker process runs with. Whatever starts a broker (chaos/cluster/broker-process.ts, the bench,
// `npm run broker`, the faultline bin's shebang) puts them on the node command line: heap sizing flags are read
// when the isolate is created, so the process cannot set them for itself (v8.setFlagsFromString at startup was
// measured and changes nothing).
//
// --initial-old-space-size=128: the broker's old generation holds about 13 MB, and V8 sizes its first limit to
// about 29 MB. Under produce load, in about half of the broker processes started on this 2-core VM, V8 then kept
// incremental marking running back to back (a Mark-Compact every 40 ms, reason "allocation limit" while the
// heap was far below it) and its helper threads used 4-5x the CPU: kcat -P at 1 KiB reached 370-440 MB/s
// instead of 480-560 MB/s. With a 128 MB initial old space, 10 of 10 processes ran in the good mode
// (the measurements are in the commit that added this file). The cost is that the first major GC comes later, at up to
// 128 MB of heap.
export const BROKER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128']
