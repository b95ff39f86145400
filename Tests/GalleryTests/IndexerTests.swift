import Foundation
import XCTest
import TestSupport
@testable import Gallery

final class IndexerTests: XCTestCase {
    var dir: URL!
    var root: URL!
    var dbPath: String!

    override func setUpWithError() throws {
        dir = try Fixtures.temporaryDirectory("gallery-idx")
        root = dir.appendingPathComponent("photos")
        dbPath = dir.appendingPathComponent("db/gallery.sqlite").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func ageAll(_ paths: [String]) { for p in paths { touch(p, secondsAgo: 3600) } }

    // MARK: Round trip

    func testIndexThenSearchFindsEachPhotoFirst() throws {
        let paths = try GalleryFixtures.makeGallery(8, in: root)
        let index = try GalleryIndex(path: dbPath)
        let encoder = HistogramEncoder()
        let report = try GalleryIndexer(index: index, encoder: encoder, options: IndexOptions(batchSize: 3)).run(roots: [root.path])
        XCTAssertEqual(report.found, 8)
        XCTAssertEqual(report.added, 8)
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.batchesCommitted, 3)
        XCTAssertEqual(try index.items(kind: .image).map(\.path), paths)

        let searcher = try GallerySearcher(index: index, model: encoder.identity)
        XCTAssertEqual(searcher.count, 8)
        for p in paths {
            let q = HistogramEncoder.histogram(try Data(contentsOf: URL(fileURLWithPath: p)), dim: 32)
            let hits = try searcher.search(q, k: 3)
            XCTAssertEqual(hits.count, 3)
            XCTAssertEqual(hits[0].path, p)
            XCTAssertEqual(hits[0].rank, 1)
            XCTAssertEqual(hits[0].score, 1, accuracy: 1e-4)
            XCTAssertGreaterThanOrEqual(hits[0].score, hits[1].score)
        }
        XCTAssertEqual(try index.integrityCheck(), ["ok"])
    }

    func testCaptionsFromGalleryJSONLAndSidecar() throws {
        let names = try GalleryFixtures.photoNames(3)
        // Reuse the shared gallery.jsonl lines for these photos (same "photos/…" layout).
        let lines = try String(contentsOfFile: try GalleryFixtures.galleryJSONL(), encoding: .utf8).split(separator: "\n")
        var kept: [String] = []
        var expected: [String: [String: Any]] = [:]
        for line in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let file = obj["file"] as! String
            if names.contains((file as NSString).lastPathComponent) { kept.append(String(line)); expected[file] = obj }
        }
        XCTAssertEqual(kept.count, 3)
        for n in names { try GalleryFixtures.copyPhoto(n, to: root.appendingPathComponent("photos/\(n)").path) }
        try (kept.joined(separator: "\n") + "\n{broken json\n").write(to: root.appendingPathComponent("gallery.jsonl"), atomically: true, encoding: .utf8)
        let sidecarPhoto = root.appendingPathComponent("photos/\(names[0])").path
        try "  my own caption \n".write(toFile: sidecarPhoto + ".txt", atomically: true, encoding: .utf8)

        let index = try GalleryIndex(path: dbPath)
        let report = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertEqual(report.added, 3)
        XCTAssertEqual(report.skippedOtherFormatsTotal, 0, "sidecars and gallery.jsonl are not 'other formats'")
        XCTAssertEqual(report.warnings.count, 1)
        XCTAssertTrue(report.warnings[0].contains("gallery.jsonl:4"), report.warnings[0])
        for (file, obj) in expected {
            let item = try XCTUnwrap(try index.item(path: root.appendingPathComponent(file).path))
            XCTAssertEqual(item.category, obj["category"] as? String)
            XCTAssertEqual(item.label, obj["label"] as? String)
            let meta = try JSONSerialization.jsonObject(with: Data(try XCTUnwrap(item.metadata).utf8)) as! [String: Any]
            XCTAssertEqual(meta["license"] as? String, obj["license"] as? String)
            XCTAssertEqual(item.width, obj["width"] as? Int)
            XCTAssertEqual(item.height, obj["height"] as? Int)
            if item.path == sidecarPhoto {
                XCTAssertEqual(item.caption, "my own caption")
            } else {
                XCTAssertEqual(item.caption, (obj["captions"] as! [String]).first)
            }
        }
        // Editing the sidecar alone updates the caption without re-encoding.
        ageAll(try index.items().map(\.path))
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        try "second caption".write(toFile: sidecarPhoto + ".txt", atomically: true, encoding: .utf8)
        let enc = HistogramEncoder()
        let r2 = try GalleryIndexer(index: index, encoder: enc).run(roots: [root.path])
        XCTAssertEqual(r2.captionsUpdated, 1)
        XCTAssertEqual(enc.encodedPaths, [])
        XCTAssertEqual(try index.item(path: sidecarPhoto)?.caption, "second caption")
    }

    // MARK: Incremental

    func testIncrementalTouchModifyDeleteAdd() throws {
        let paths = try GalleryFixtures.makeGallery(6, in: root)
        ageAll(paths)
        let index = try GalleryIndex(path: dbPath)
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])

        // Nothing changed: no file is read or encoded.
        var enc = HistogramEncoder()
        var r = try GalleryIndexer(index: index, encoder: enc).run(roots: [root.path])
        XCTAssertEqual(enc.encodedPaths, [])
        XCTAssertEqual(r.unchanged, 6)
        XCTAssertEqual(r.touched, 0)

        // Touch: new mtime, same bytes → hashed, not encoded; the stat is updated.
        touch(paths[0], secondsAgo: 1800)
        enc = HistogramEncoder()
        r = try GalleryIndexer(index: index, encoder: enc).run(roots: [root.path])
        XCTAssertEqual(enc.encodedPaths, [])
        XCTAssertEqual(r.touched, 1)
        XCTAssertEqual(r.unchanged, 6)
        XCTAssertEqual(try index.item(path: paths[0])?.mtimeNs, FileStat.of(paths[0])?.mtimeNs)

        // Modify content → updated and re-encoded; the stored vector follows the file.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: paths[1]))
        try h.seekToEnd(); try h.write(contentsOf: Data(repeating: 0x41, count: 5000)); try h.close()
        touch(paths[1], secondsAgo: 1200)
        // Delete one, add one.
        try FileManager.default.removeItem(atPath: paths[2])
        let extra = root.appendingPathComponent("sub/deeper/new.jpg").path
        try GalleryFixtures.copyPhoto(try GalleryFixtures.photoNames(7)[6], to: extra)
        touch(extra, secondsAgo: 600)
        enc = HistogramEncoder()
        r = try GalleryIndexer(index: index, encoder: enc).run(roots: [root.path])
        XCTAssertEqual(Set(enc.encodedPaths), [paths[1], extra])
        XCTAssertEqual(r.updated, 1)
        XCTAssertEqual(r.added, 1)
        XCTAssertEqual(r.removed, 1)
        XCTAssertEqual(r.unchanged, 4)
        XCTAssertNil(try index.item(path: paths[2]))
        let item = try XCTUnwrap(try index.item(path: paths[1]))
        let stored = try XCTUnwrap(try index.embedding(itemID: item.id, model: enc.identity))
        let expected = try EmbeddingMath.normalized(HistogramEncoder.histogram(try Data(contentsOf: URL(fileURLWithPath: paths[1])), dim: 32), context: "t")
        XCTAssertTrue(Agreement(ours: stored, reference: expected).holds())

        // The result equals a clean index of the same folder.
        let clean = try GalleryIndex(path: dir.appendingPathComponent("clean.sqlite").path)
        _ = try GalleryIndexer(index: clean, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertEqual(try IndexSnapshot(index, model: enc.identity), try IndexSnapshot(clean, model: enc.identity))
    }

    func testRecentlyModifiedFileIsRehashedNotReencoded() throws {
        // mtime within 2 s of the indexing time: size+mtime could hide a same-tick edit.
        let paths = try GalleryFixtures.makeGallery(2, in: root)
        let index = try GalleryIndex(path: dbPath)
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        let enc = HistogramEncoder()
        let r = try GalleryIndexer(index: index, encoder: enc).run(roots: [root.path])
        XCTAssertEqual(r.touched, paths.count)
        XCTAssertEqual(enc.encodedPaths, [])
    }

    func testRemoveDirectoryDropsOnlyThatFolder() throws {
        let paths = try GalleryFixtures.makeGallery(6, in: root)
        // A sibling whose name extends "sub" must survive a removal of "sub".
        let sibling = root.appendingPathComponent("sub2/x.jpg").path
        try GalleryFixtures.copyPhoto(try GalleryFixtures.photoNames(7)[6], to: sibling)
        let index = try GalleryIndex(path: dbPath)
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertEqual(try index.count(kind: .image), 7)
        let removed = try index.remove(directory: root.appendingPathComponent("sub/").path)
        XCTAssertEqual(removed, paths.filter { $0.contains("/sub/") }.count)
        XCTAssertEqual(Set(try index.items().map(\.path)), Set(paths.filter { !$0.contains("/sub/") } + [sibling]))
        XCTAssertEqual(try index.remove(directory: "/nonexistent/folder"), 0)
    }

    // MARK: Walk rules

    func testSymlinkLoopHiddenExcludedAndOtherFormats() throws {
        let paths = try GalleryFixtures.makeGallery(4, in: root)
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("sub/loop").path, withDestinationPath: root.path)
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("zz-alias.jpg").path, withDestinationPath: paths[0])
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("dangling.jpg").path, withDestinationPath: "/nonexistent/x.jpg")
        let names = try GalleryFixtures.photoNames(8)
        try GalleryFixtures.copyPhoto(names[4], to: root.appendingPathComponent(".hidden.jpg").path)
        try GalleryFixtures.copyPhoto(names[5], to: root.appendingPathComponent(".cache/h.jpg").path)
        try GalleryFixtures.copyPhoto(names[6], to: root.appendingPathComponent("node_modules/pkg/n.jpg").path)
        try GalleryFixtures.copyPhoto(names[7], to: root.appendingPathComponent("private/p.jpg").path)
        try Data("GIF89a".utf8).write(to: root.appendingPathComponent("anim.gif"))
        try Data("notes".utf8).write(to: root.appendingPathComponent("notes.txt"))

        // The index's own files inside the indexed folder are not "other formats".
        let index = try GalleryIndex(path: root.appendingPathComponent("gallery.sqlite").path)
        var opts = IndexOptions()
        opts.walk.excludeDirs = WalkOptions.defaultExcludeDirs + [root.appendingPathComponent("private").path]
        let r = try GalleryIndexer(index: index, encoder: HistogramEncoder(), options: opts).run(roots: [root.path])
        XCTAssertEqual(Set(try index.items().map(\.path)), Set(paths), "each file once, under its first path; hidden/excluded skipped")
        XCTAssertEqual(r.skippedHidden, 2)
        XCTAssertEqual(r.skippedExcludedDirs, 2)
        XCTAssertEqual(r.skippedLinks, 2, "the loop back to the root and the second path to photo 0")
        XCTAssertEqual(r.brokenLinks, 1)
        XCTAssertEqual(r.skippedOtherFormats, ["gif": 1, "txt": 1])
        XCTAssertTrue(r.plainSummary.contains("2 in other formats (gif 1, txt 1)"), r.plainSummary)

        // Asking for hidden files indexes them; not following links skips the alias and the loop.
        opts.walk.includeHidden = true
        opts.walk.followSymlinks = false
        let r2 = try GalleryIndexer(index: index, encoder: HistogramEncoder(), options: opts).run(roots: [root.path])
        XCTAssertEqual(r2.added, 2)
        XCTAssertEqual(r2.skippedLinks, 3)
        XCTAssertNotNil(try index.item(path: root.appendingPathComponent(".cache/h.jpg").path))
    }

    func testMissingRootIsAnErrorAndPrunesNothing() throws {
        _ = try GalleryFixtures.makeGallery(2, in: root)
        let index = try GalleryIndex(path: dbPath)
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertThrowsError(try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path, dir.appendingPathComponent("gone").path])) { e in
            XCTAssertEqual(e as? GalleryError, .notADirectory(path: self.dir.appendingPathComponent("gone").path))
        }
        XCTAssertEqual(try index.count(), 2)
    }

    // MARK: Bad input

    func testEmptyFakeAndHugeFilesAreReportedAndSkipped() throws {
        let paths = try GalleryFixtures.makeGallery(2, in: root)
        try Data().write(to: root.appendingPathComponent("empty.jpg"))
        try Data("<html>not a photo</html>".utf8).write(to: root.appendingPathComponent("fake.jpg"))
        try GalleryFixtures.pngHeader(width: 20000, height: 20000).write(to: root.appendingPathComponent("huge.png"))
        // A JPEG that claims to be PNG by name still has JPEG magic: accepted as an image.
        try GalleryFixtures.copyPhoto(try GalleryFixtures.photoNames(3)[2], to: root.appendingPathComponent("misnamed.png").path)
        let index = try GalleryIndex(path: dbPath)
        let r = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        let reasons = Dictionary(uniqueKeysWithValues: r.problems.map { (($0.path as NSString).lastPathComponent, $0.reason) })
        XCTAssertEqual(reasons, ["empty.jpg": .empty, "fake.jpg": .notAnImage, "huge.png": .tooLarge])
        XCTAssertEqual(r.added, 3)
        XCTAssertEqual(Set(try index.items().map(\.path)), Set(paths + [root.appendingPathComponent("misnamed.png").path]))
        XCTAssertTrue(r.plainSummary.contains("3 file(s) could not be indexed"), r.plainSummary)
        XCTAssertTrue(r.problems.first { $0.reason == .tooLarge }!.message.contains("20000×20000"))

        // A known photo truncated to 0 bytes loses its row (a clean index would not have it).
        try Data().write(to: URL(fileURLWithPath: paths[0]))
        let r2 = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertEqual(r2.removed, 1)
        XCTAssertNil(try index.item(path: paths[0]))
    }

    func testUnreadableFileIsReportedAndSkipped() throws {
        let paths = try GalleryFixtures.makeGallery(2, in: root)
        let locked = root.appendingPathComponent("locked.jpg").path
        if geteuid() == 0 {
            // chmod 000 does not stop root; a link to /proc/self/mem is a regular file whose
            // read fails with EIO, which exercises the same path (read error → reported).
            guard FileManager.default.fileExists(atPath: "/proc/self/mem") else {
                throw XCTSkip("running as root without /proc: cannot make an unreadable file")
            }
            try FileManager.default.createSymbolicLink(atPath: locked, withDestinationPath: "/proc/self/mem")
        } else {
            try GalleryFixtures.copyPhoto(try GalleryFixtures.photoNames(3)[2], to: locked)
            chmod(locked, 0)
        }
        let index = try GalleryIndex(path: dbPath)
        let r = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertEqual(r.problems.map(\.path), [locked])
        XCTAssertEqual(r.problems.first?.reason, .unreadable)
        XCTAssertEqual(Set(try index.items().map(\.path)), Set(paths))
    }

    func testFileChangingDuringIndexingIsNotCommittedThenPickedUp() throws {
        let paths = try GalleryFixtures.makeGallery(3, in: root)
        ageAll(paths)
        let victim = paths[1]
        let encoder = HistogramEncoder(beforeEncode: { p in
            guard p == victim, let h = FileHandle(forWritingAtPath: p) else { return }
            _ = try? h.seekToEnd(); try? h.write(contentsOf: Data(repeating: 7, count: 100)); try? h.close()
        })
        let index = try GalleryIndex(path: dbPath)
        let r = try GalleryIndexer(index: index, encoder: encoder).run(roots: [root.path])
        XCTAssertEqual(r.problems.map(\.reason), [.changedDuringIndexing])
        XCTAssertEqual(r.added, 2)
        XCTAssertNil(try index.item(path: victim))
        let r2 = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertEqual(r2.added, 1)
        XCTAssertEqual(try index.item(path: victim)?.size, FileStat.of(victim)?.size)
    }

    func testEncoderFailureForOneFileDoesNotStopTheBatch() throws {
        let paths = try GalleryFixtures.makeGallery(3, in: root)
        struct Flaky: GalleryEncoder {
            let inner = HistogramEncoder()
            let bad: String
            var identity: ModelIdentity { inner.identity }
            func encodeImages(paths: [String]) throws -> [Result<[Float], Error>] {
                try inner.encodeImages(paths: paths).enumerated().map { i, r in
                    paths[i] == bad ? .failure(HistogramEncoder.DecodeFailure(description: "corrupt JPEG data: premature end")) : r
                }
            }
            func encodeTexts(_ texts: [String]) throws -> [[Float]] { try inner.encodeTexts(texts) }
        }
        let index = try GalleryIndex(path: dbPath)
        let r = try GalleryIndexer(index: index, encoder: Flaky(bad: paths[0])).run(roots: [root.path])
        XCTAssertEqual(r.added, 2)
        XCTAssertEqual(r.problems, [FileProblem(path: paths[0], reason: .encodeFailed, message: "corrupt JPEG data: premature end")])
    }

    // MARK: Models

    func testDimensionMismatchIsRefusedAndModelsDoNotMix() throws {
        let paths = try GalleryFixtures.makeGallery(3, in: root)
        let index = try GalleryIndex(path: dbPath)
        let a = HistogramEncoder(name: "clip", dim: 32)
        _ = try GalleryIndexer(index: index, encoder: a).run(roots: [root.path])

        let wrongDim = HistogramEncoder(name: "clip", dim: 16)
        XCTAssertThrowsError(try GalleryIndexer(index: index, encoder: wrongDim).run(roots: [root.path])) { e in
            XCTAssertEqual(e as? GalleryError, .modelDimensionMismatch(name: "clip", stored: 32, requested: 16))
            XCTAssertTrue("\(e)".contains("refusing to mix"), "\(e)")
        }
        XCTAssertThrowsError(try GallerySearcher(index: index, model: wrongDim.identity))
        XCTAssertThrowsError(try GallerySearcher(index: index, model: ModelIdentity(name: "other", weightsHash: "x", dim: 32))) { e in
            guard case .modelNotIndexed(let name, let available)? = e as? GalleryError else { return XCTFail("\(e)") }
            XCTAssertEqual(name, "other")
            XCTAssertEqual(available, ["clip (32-d, 3 items)"])
        }

        // A second model (other name, other dim) coexists; retrained weights are a new model.
        let b = HistogramEncoder(name: "minilm", dim: 16)
        let rb = try GalleryIndexer(index: index, encoder: b).run(roots: [root.path])
        XCTAssertEqual(rb.added, 3, "new model: every file encoded once for it")
        let retrained = HistogramEncoder(name: "clip", dim: 32, weightsHash: "w2")
        _ = try GalleryIndexer(index: index, encoder: retrained).run(roots: [root.path])
        XCTAssertEqual(try index.models().map(\.embeddingCount), [3, 3, 3])
        XCTAssertEqual(try index.count(), 3)
        let sb = try GallerySearcher(index: index, model: b.identity)
        XCTAssertEqual(sb.matrix.dim, 16)
        XCTAssertEqual(Set(sb.matrix.paths), Set(paths))
        XCTAssertThrowsError(try sb.search([Float](repeating: 1, count: 32), k: 1)) { e in
            XCTAssertEqual(e as? GalleryError, .vectorDimension(expected: 16, got: 32, context: "query for model 'minilm'"))
        }
        // Changing a file drops its stale vectors of other models.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: paths[0]))
        try h.seekToEnd(); try h.write(contentsOf: Data([1, 2, 3])); try h.close()
        _ = try GalleryIndexer(index: index, encoder: a).run(roots: [root.path])
        let id = try XCTUnwrap(try index.item(path: paths[0])?.id)
        XCTAssertNotNil(try index.embedding(itemID: id, model: a.identity))
        XCTAssertNil(try index.embedding(itemID: id, model: b.identity))
    }

    func testFP16StorageKeepsRanking() throws {
        let paths = try GalleryFixtures.makeGallery(6, in: root)
        let index = try GalleryIndex(path: dbPath)
        let enc = HistogramEncoder()
        _ = try GalleryIndexer(index: index, encoder: enc, options: IndexOptions(storage: .fp16)).run(roots: [root.path])
        let s = try GallerySearcher(index: index, model: enc.identity)
        for p in paths {
            let q = HistogramEncoder.histogram(try Data(contentsOf: URL(fileURLWithPath: p)), dim: 32)
            let hit = try XCTUnwrap(try s.search(q, k: 1).first)
            XCTAssertEqual(hit.path, p)
            XCTAssertEqual(hit.score, 1, accuracy: 2e-3)
        }
    }

    // MARK: Replies and phrases

    func testReplyKindItemsAreFilteredByKind() throws {
        _ = try GalleryFixtures.makeGallery(2, in: root)
        let index = try GalleryIndex(path: dbPath)
        let enc = HistogramEncoder()
        _ = try GalleryIndexer(index: index, encoder: enc).run(roots: [root.path])
        // Text items (kind `reply`) share the table with photos; a kind filter keeps them apart.
        let texts = [("default#1", "Sounds great!"), ("default#2", "Where is that?")]
        let records = try texts.map { path, text in
            var r = ItemRecord(kind: .reply, path: path, collection: "default", caption: text)
            r.embedding = try enc.encodeTexts([text])[0]
            return r
        }
        try index.upsert(records, model: enc.identity)

        let s = try GallerySearcher(index: index, model: enc.identity)
        let q = HistogramEncoder.textVector("Where is that?", dim: 32)
        let replyHits = try s.search(q, k: 5, kind: .reply)
        XCTAssertEqual(replyHits.map(\.kind), [.reply, .reply])
        XCTAssertEqual(replyHits[0].caption, "Where is that?")
        XCTAssertEqual(replyHits[0].path, "default#2")
        XCTAssertEqual(replyHits[0].score, 1, accuracy: 1e-5)
        XCTAssertEqual(try s.search(q, k: 5, kind: .image).map(\.kind), [.image, .image])
        XCTAssertEqual(try s.search(q, k: 10).count, 4)
        // Image-only loading leaves the replies out of the matrix.
        XCTAssertEqual(try GallerySearcher(index: index, model: enc.identity, kinds: [.image]).count, 2)
    }

    func testAttributePhrasesRoundTripAndCascade() throws {
        let paths = try GalleryFixtures.makeGallery(2, in: root)
        let index = try GalleryIndex(path: dbPath)
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        let id = try XCTUnwrap(try index.item(path: paths[0])?.id)
        try index.setAttributePhrases(["golden fur", "a red ball", "grass"], itemID: id)
        XCTAssertEqual(try index.attributePhrases(itemID: id), ["golden fur", "a red ball", "grass"])
        try index.setAttributePhrases(["grass"], itemID: id)
        XCTAssertEqual(try index.allAttributePhrases(), [id: ["grass"]])
        try FileManager.default.removeItem(atPath: paths[0])
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder()).run(roots: [root.path])
        XCTAssertEqual(try index.allAttributePhrases(), [:])
        XCTAssertEqual(try index.integrityCheck(), ["ok"])
    }

    // MARK: Progress

    func testProgressReportsCommittedBatchesAndRate() throws {
        let paths = try GalleryFixtures.makeGallery(5, in: root)
        let index = try GalleryIndex(path: dbPath)
        var events: [IndexProgress] = []
        _ = try GalleryIndexer(index: index, encoder: HistogramEncoder(), options: IndexOptions(batchSize: 2))
            .run(roots: [root.path]) { events.append($0) }
        XCTAssertEqual(events.first?.phase, .scanning)
        XCTAssertEqual(events.last?.phase, .finished)
        XCTAssertEqual(events.flatMap(\.committedPaths).sorted(), paths)
        let batches = events.filter { !$0.committedPaths.isEmpty }
        XCTAssertEqual(batches.map(\.done), [2, 4, 5])
        XCTAssertTrue(batches.allSatisfy { $0.total == 5 && $0.rate != nil })
        let line = ProgressBar(width: 60, unicode: false).render(batches[0])
        XCTAssertTrue(line.hasPrefix("[") && line.contains("2/5") && line.contains("img/s") && line.contains("ETA"), line)
        XCTAssertLessThan(line.count, 60)
    }
}
