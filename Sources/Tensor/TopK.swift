/// Partial top-k selection: the k largest scores, best first, in O(n log k) with a
/// bounded min-heap (no full sort of the candidates).
public enum TopK {
    public static func select(_ scores: UnsafeBufferPointer<Float>, k: Int) -> [(index: Int, score: Float)] {
        let k = min(k, scores.count)
        guard k > 0 else { return [] }
        var heap: [(index: Int, score: Float)] = []
        heap.reserveCapacity(k)
        // Min-heap on score (ties: the later index is "smaller", so earlier items win).
        func less(_ a: (index: Int, score: Float), _ b: (index: Int, score: Float)) -> Bool {
            a.score < b.score || (a.score == b.score && a.index > b.index)
        }
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && less(heap[l], heap[m]) { m = l }
                if r < heap.count && less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for (i, s) in scores.enumerated() where !s.isNaN {
            let item = (index: i, score: s)
            if heap.count < k {
                heap.append(item)
                var c = heap.count - 1
                while c > 0 {
                    let p = (c - 1) / 2
                    if less(heap[c], heap[p]) { heap.swapAt(c, p); c = p } else { break }
                }
            } else if less(heap[0], item) {
                heap[0] = item
                siftDown(0)
            }
        }
        return heap.sorted { less($1, $0) }
    }

    public static func select(_ scores: [Float], k: Int) -> [(index: Int, score: Float)] {
        scores.withUnsafeBufferPointer { select($0, k: k) }
    }
}
