import Foundation

/// A bounded, lock-protected word -> token ids cache. The tokenizers are shared across threads
/// (`Sendable`), so the cache is the only mutable state and is guarded by an NSLock.
final class BPECache: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [[UInt8]: [Int32]] = [:]
    /// Entry limit: hostile input must not grow memory without bound; on overflow the cache is
    /// simply cleared (cheap, and common words come back quickly).
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func get(_ key: [UInt8]) -> [Int32]? {
        lock.lock(); defer { lock.unlock() }
        return storage[key]
    }

    func put(_ key: [UInt8], _ value: [Int32]) {
        lock.lock(); defer { lock.unlock() }
        if storage.count >= capacity { storage.removeAll(keepingCapacity: true) }
        storage[key] = value
    }
}
