// ThreadSanitizer does not see Swift's `Synchronization.Mutex` on Linux (Swift 6.3.1).
//
// Four threads append to one array, each append inside `Mutex.withLock`. The program is correct (it
// prints 40000), yet a `-sanitize=thread` build reports a "Swift access race" on the array: the
// mutex locks with atomics and futex system calls that TSan does not model as a lock, so it sees two
// unsynchronized modifications. The same program with `NSLock` (a pthread mutex, which TSan
// intercepts) runs without a report.
//
//     swiftc -sanitize=thread -g main.swift -o mutex && ./mutex
//
// Every report of the gateway's ThreadSanitizer runs was of this kind (docs/RELIABILITY.md).
import Foundation
import Synchronization

final class Box: Sendable {
    let items = Mutex<[Int]>([])
}

let box = Box()
let threads = (0..<4).map { offset in
    Thread {
        for index in 0..<10_000 { box.items.withLock { $0.append(index + offset) } }
    }
}
threads.forEach { $0.start() }
Thread.sleep(forTimeInterval: 2)
print(box.items.withLock { $0.count })
