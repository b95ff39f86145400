import Foundation
import XCTest
import TestSupport
@testable import Gallery

/// The indexer prepares (reads, hashes, decodes) batch i+1 while batch i is being encoded,
/// and hands the encoder the bytes it already read.
final class IndexPipelineTests: XCTestCase {
    /// Records the two stages; `encodeImages(prepared:)` of the first batch waits until the
    /// second batch is being prepared, so a sequential indexer fails here.
    final class StagedEncoder: GalleryEncoder, @unchecked Sendable {
        let inner = HistogramEncoder()
        var identity: ModelIdentity { inner.identity }
        let secondBatchPrepared = DispatchSemaphore(value: 0)
        private let lock = NSLock()
        private(set) var prepareCalls = 0
        private var encodeCalls = 0
        private(set) var overlapped = false
        private(set) var contentsMatched = true

        func encodeImages(paths: [String]) throws -> [Result<[Float], Error>] { try inner.encodeImages(paths: paths) }
        func encodeTexts(_ texts: [String]) throws -> [[Float]] { try inner.encodeTexts(texts) }

        func prepareImages(_ files: [(path: String, contents: Data)]) -> PreparedImages {
            lock.lock()
            prepareCalls += 1
            let call = prepareCalls
            for f in files where FileManager.default.contents(atPath: f.path) != f.contents { contentsMatched = false }
            lock.unlock()
            if call == 2 { secondBatchPrepared.signal() }
            return PreparedImages(paths: files.map(\.path), input: files.map { HistogramEncoder.histogram($0.contents, dim: 32) })
        }

        func encodeImages(prepared: PreparedImages) throws -> [Result<[Float], Error>] {
            lock.lock(); encodeCalls += 1; let call = encodeCalls; lock.unlock()
            if call == 1 {
                // First batch: the second must be prepared while this one encodes (it may
                // already have started before this call, so count encodes, not prepares).
                overlapped = secondBatchPrepared.wait(timeout: .now() + 10) == .success
            }
            let vectors = try XCTUnwrap(prepared.input as? [[Float]])
            return vectors.map { .success($0) }
        }
    }

    func testNextBatchIsPreparedWhileTheCurrentOneEncodes() throws {
        let dir = try Fixtures.temporaryDirectory("index-pipeline")
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("photos")
        let paths = try GalleryFixtures.makeGallery(7, in: root)
        let index = try GalleryIndex(path: dir.appendingPathComponent("db.sqlite").path)
        let encoder = StagedEncoder()
        let report = try GalleryIndexer(index: index, encoder: encoder, options: IndexOptions(batchSize: 3)).run(roots: [root.path])
        XCTAssertTrue(encoder.overlapped, "batch 2 was not prepared while batch 1 encoded")
        XCTAssertTrue(encoder.contentsMatched, "the encoder got bytes that differ from the files")
        XCTAssertEqual(encoder.prepareCalls, 3)
        XCTAssertEqual(report.added, 7)
        XCTAssertEqual(report.problems, [])
        // Same vectors as the one-stage path would store.
        let searcher = try GallerySearcher(index: index, model: encoder.identity)
        for p in paths {
            let hits = try searcher.search(HistogramEncoder.histogram(try Data(contentsOf: URL(fileURLWithPath: p)), dim: 32), k: 1)
            XCTAssertEqual(hits.first?.path, p)
            XCTAssertEqual(hits.first?.score ?? 0, 1, accuracy: 1e-4)
        }
    }

    /// An encoder error in one batch stops the run cleanly with the batch being prepared
    /// in the background finished first, and the batches before it kept.
    func testEncoderErrorStopsTheRunAndKeepsEarlierBatches() throws {
        final class FailingSecondBatch: GalleryEncoder, @unchecked Sendable {
            let inner = HistogramEncoder()
            var identity: ModelIdentity { inner.identity }
            private var calls = 0
            struct Broken: Error {}
            func encodeImages(paths: [String]) throws -> [Result<[Float], Error>] {
                calls += 1
                if calls == 2 { throw Broken() }
                return try inner.encodeImages(paths: paths)
            }
            func encodeTexts(_ texts: [String]) throws -> [[Float]] { [] }
        }
        let dir = try Fixtures.temporaryDirectory("index-pipeline-fail")
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("photos")
        _ = try GalleryFixtures.makeGallery(7, in: root)
        let index = try GalleryIndex(path: dir.appendingPathComponent("db.sqlite").path)
        XCTAssertThrowsError(try GalleryIndexer(index: index, encoder: FailingSecondBatch(), options: IndexOptions(batchSize: 3)).run(roots: [root.path]))
        XCTAssertEqual(try index.items(kind: .image).count, 3)
        XCTAssertEqual(try index.integrityCheck(), ["ok"])
    }
}
