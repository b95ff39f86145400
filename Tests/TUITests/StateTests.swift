import Engine
import XCTest
@testable import TUI

final class StateTests: XCTestCase {
    func testTypingAndEditingKeys() {
        var s = TUIState(modelName: "m")
        XCTAssertEqual(s.focus, .input, "input has focus at start")
        s.type("hello")
        XCTAssertEqual(s.input.text, "hello")
        _ = s.handle(key: .left); _ = s.handle(key: .left)
        s.type("X")
        XCTAssertEqual(s.input.text, "helXlo")
        XCTAssertEqual(s.input.cursor, 4)
        _ = s.handle(key: .home); _ = s.handle(key: .delete)
        XCTAssertEqual(s.input.text, "elXlo")
        _ = s.handle(key: .end); _ = s.handle(key: .backspace)
        XCTAssertEqual(s.input.text, "elXl")
        _ = s.handle(key: .left); _ = s.handle(key: .ctrlU)
        XCTAssertEqual(s.input.text, "l")
        XCTAssertEqual(s.input.cursor, 0)
        _ = s.handle(key: .backspace)  // at start: nothing to delete
        _ = s.handle(key: .right); _ = s.handle(key: .right); _ = s.handle(key: .delete)
        XCTAssertEqual(s.input.text, "l")
        // q, a, g, ? are text while typing.
        s.type(" qag?")
        XCTAssertEqual(s.input.text, "l qag?")
        XCTAssertFalse(s.shouldQuit)
        XCTAssertEqual(s.focus, .input)
        // Control characters never enter the line.
        _ = s.handle(key: .char("\u{1B}")); _ = s.handle(key: .char("\u{9B}"))
        XCTAssertEqual(s.input.text, "l qag?")
    }

    func testCombiningMarkJoinsPreviousCharacter() {
        var e = LineEditor()
        e.insert("e")
        e.insert("\u{301}")
        XCTAssertEqual(e.characters.count, 1)
        XCTAssertEqual(e.text, "e\u{301}")
        e.insert("日")
        e.moveLeft()
        e.backspace()
        XCTAssertEqual(e.text, "日")
    }

    func testEnterSendsTurnAndStartsRetrieval() {
        var s = TUIState(modelName: "m")
        XCTAssertEqual(s.handle(key: .enter), [], "an empty line sends nothing")
        s.type("   ")
        XCTAssertEqual(s.handle(key: .enter), [], "whitespace only sends nothing")
        _ = s.handle(key: .ctrlU)
        s.type("show me cats")
        let effects = s.handle(key: .enter)
        let turn = DialogTurn(speaker: "A", text: "show me cats")
        XCTAssertEqual(effects, [.sendTurn(turn), .retrieve(context: [turn], generation: 1)])
        XCTAssertTrue(s.retrieving)
        XCTAssertEqual(s.input.text, "")
        XCTAssertEqual(s.turns, [turn])
        // Typing stays possible while retrieving; a second turn retrieves over both.
        s.type("and dogs")
        let second = s.handle(key: .enter)
        let turn2 = DialogTurn(speaker: "A", text: "and dogs")
        XCTAssertEqual(second, [.sendTurn(turn2), .retrieve(context: [turn, turn2], generation: 2)])
    }

    func testHistory() {
        var s = TUIState(modelName: "m")
        for line in ["first", "second"] { s.type(line); _ = s.handle(key: .enter) }
        s.type("draft")
        _ = s.handle(key: .up)
        XCTAssertEqual(s.input.text, "second")
        _ = s.handle(key: .up)
        XCTAssertEqual(s.input.text, "first")
        _ = s.handle(key: .up)
        XCTAssertEqual(s.input.text, "first", "stops at the oldest")
        _ = s.handle(key: .down)
        XCTAssertEqual(s.input.text, "second")
        _ = s.handle(key: .down)
        XCTAssertEqual(s.input.text, "draft", "the unsent line comes back")
        // Resumed sessions seed the history with the user's text turns.
        let resumed = TUIState(turns: [DialogTurn(speaker: "A", text: "old"), DialogTurn(speaker: "B", text: "theirs")])
        var r = resumed
        _ = r.handle(key: .up)
        XCTAssertEqual(r.input.text, "old")
    }

    func testStaleRetrievalIsDropped() async throws {
        var s = TUIState(modelName: "m")
        s.type("cat dog"); _ = s.handle(key: .enter)
        s.type("zebra"); _ = s.handle(key: .enter)
        let old = try await wordResult(for: [DialogTurn(speaker: "A", text: "cat dog")])
        s.retrievalFinished(generation: 1, result: old)
        XCTAssertNil(s.result, "generation 1 is stale after the second turn")
        XCTAssertTrue(s.retrieving)
        let new = try await wordResult(for: s.turns)
        s.retrievalFinished(generation: 2, result: new)
        XCTAssertEqual(s.result, new)
        XCTAssertFalse(s.retrieving)
        s.retrievalFailed(generation: 1, message: "late failure")
        XCTAssertNil(s.statusMessage, "a stale failure is ignored too")
    }

    private func stateWithResults(_ text: String = "apple banana cherry") async throws -> TUIState {
        var s = TUIState(modelName: "m")
        s.type(text)
        _ = s.handle(key: .enter)
        s.retrievalFinished(generation: s.retrievalGeneration, result: try await wordResult(for: s.turns))
        return s
    }

    func testFocusAndTabSwitching() async throws {
        var s = try await stateWithResults()
        _ = s.handle(key: .tab)
        XCTAssertEqual(s.focus, .results)
        XCTAssertEqual(s.tab, .photos)
        _ = s.handle(key: .right)
        XCTAssertEqual(s.tab, .replies)
        _ = s.handle(key: .left)
        XCTAssertEqual(s.tab, .photos)
        _ = s.handle(key: .tab)
        XCTAssertEqual(s.tab, .replies)
        XCTAssertEqual(s.focus, .results)
        _ = s.handle(key: .tab)
        XCTAssertEqual(s.focus, .input, "Tab cycles input → Photos → Replies → input")
        _ = s.handle(key: .escape)
        XCTAssertEqual(s.focus, .results)
        _ = s.handle(key: .char("i"))
        XCTAssertEqual(s.focus, .input)
        _ = s.handle(key: .escape)
        _ = s.handle(key: .enter)
        XCTAssertEqual(s.focus, .input, "Enter in the results returns to the input")
        _ = s.handle(key: .backTab)
        XCTAssertEqual(s.focus, .results)
        XCTAssertEqual(s.tab, .replies)
    }

    func testSelectionAndMarks() async throws {
        var s = try await stateWithResults()
        _ = s.handle(key: .tab)
        XCTAssertEqual(s.selectedPhoto?.path, "/gallery/apple.jpg")
        _ = s.handle(key: .down); _ = s.handle(key: .down); _ = s.handle(key: .down)
        XCTAssertEqual(s.photoSelection, 2, "selection stops at the last photo")
        XCTAssertEqual(s.selectedPhoto?.path, "/gallery/cherry.jpg")
        _ = s.handle(key: .char(" "))
        _ = s.handle(key: .up)
        _ = s.handle(key: .char(" "))
        XCTAssertEqual(s.marks, ["/gallery/cherry.jpg", "/gallery/banana.jpg"], "marks keep their order")
        _ = s.handle(key: .char(" "))
        XCTAssertEqual(s.marks, ["/gallery/cherry.jpg"], "space again unmarks")
        _ = s.handle(key: .right)
        _ = s.handle(key: .down)
        XCTAssertEqual(s.replySelection, 1)
        XCTAssertEqual(s.photoSelection, 1, "each tab keeps its own selection")
        _ = s.handle(key: .char(" "))
        XCTAssertEqual(s.marks, ["/gallery/cherry.jpg"], "replies cannot be marked")
        XCTAssertEqual(s.handle(key: .char("o")), [], "replies have nothing to open")
        _ = s.handle(key: .left)
        XCTAssertEqual(s.handle(key: .char("o")), [.openPhoto("/gallery/banana.jpg")])
        XCTAssertEqual(s.handle(key: .char("q")), [.quit])
        XCTAssertTrue(s.shouldQuit)
    }

    func testInspector() async throws {
        var s = try await stateWithResults("red bicycle")
        _ = s.handle(key: .tab)
        _ = s.handle(key: .down)
        let effects = s.handle(key: .char("a"))
        XCTAssertEqual(effects, [.explain(text: "red bicycle", imagePath: "/gallery/red.jpg", generation: 1)])
        XCTAssertEqual(s.focus, .inspector)
        XCTAssertEqual(s.inspector, .loading(imagePath: "/gallery/red.jpg"))
        let e = try await WordEngine().explain(text: "red bicycle", imagePath: "/gallery/red.jpg")
        s.explanationFinished(generation: 1, explanation: e)
        XCTAssertEqual(s.inspector, .loaded(e))
        XCTAssertEqual(s.thumbnailPath, "/gallery/red.jpg")
        _ = s.handle(key: .escape)
        XCTAssertEqual(s.focus, .results)
        XCTAssertEqual(s.inspector, .closed)
        // A late answer for a closed inspector is ignored.
        s.explanationFinished(generation: 1, explanation: e)
        XCTAssertEqual(s.inspector, .closed)
    }

    func testInspectorNeedsPhotoAndText() {
        var s = TUIState(modelName: "m")
        _ = s.handle(key: .tab)
        XCTAssertEqual(s.handle(key: .char("a")), [])
        XCTAssertEqual(s.focus, .results)
        XCTAssertNotNil(s.statusMessage)
    }

    func testGalleryBrowser() async throws {
        var s = TUIState(modelName: "m")
        _ = s.handle(key: .tab)
        XCTAssertEqual(s.handle(key: .char("g")), [.loadGallery])
        XCTAssertEqual(s.focus, .gallery)
        s.galleryLoaded(try await WordEngine().galleryEntries())
        XCTAssertEqual(s.gallerySize, 4)
        XCTAssertEqual(s.gallery.categories, ["animal", "building", "food"])
        XCTAssertEqual(s.gallery.selectedEntry?.path, "/gallery/cat.jpg")
        _ = s.handle(key: .down)
        XCTAssertEqual(s.gallery.selectedEntry?.path, "/gallery/dog.jpg")
        XCTAssertEqual(s.thumbnailPath, "/gallery/dog.jpg", "the preview follows the gallery selection")
        _ = s.handle(key: .char("c"))
        XCTAssertEqual(s.gallery.currentCategory, "animal")
        XCTAssertEqual(s.gallery.filteredIndices, [0, 1])
        _ = s.handle(key: .char("c"))
        XCTAssertEqual(s.gallery.filteredIndices, [3])
        _ = s.handle(key: .char("c")); _ = s.handle(key: .char("c"))
        XCTAssertNil(s.gallery.currentCategory, "cycling wraps back to all")
        XCTAssertEqual(s.gallery.filteredIndices.count, 4)
        // Search: q and c are text while the search field is open.
        _ = s.handle(key: .char("/"))
        s.type("PARK")
        XCTAssertEqual(s.gallery.search.text, "PARK")
        XCTAssertEqual(s.gallery.filteredIndices, [1], "case-insensitive caption search")
        _ = s.handle(key: .escape)
        XCTAssertEqual(s.gallery.search.text, "", "Esc clears the search")
        XCTAssertEqual(s.focus, .gallery)
        _ = s.handle(key: .char("/")); s.type("cake"); _ = s.handle(key: .enter)
        XCTAssertFalse(s.gallery.editingSearch)
        _ = s.handle(key: .char(" "))
        XCTAssertEqual(s.marks, ["/gallery/cake.jpg"])
        // Enter shares the photo as a turn and retrieves with it as context.
        let effects = s.handle(key: .enter)
        let shared = DialogTurn(speaker: "A", text: "", imagePath: "/gallery/cake.jpg")
        XCTAssertEqual(effects, [.sendTurn(shared), .retrieve(context: [shared], generation: 1)])
        XCTAssertEqual(s.focus, .input)
        // The gallery is loaded once.
        _ = s.handle(key: .tab)
        XCTAssertEqual(s.handle(key: .char("g")), [])
        _ = s.handle(key: .escape)
        XCTAssertEqual(s.focus, .results)
    }

    func testHelpAndQuit() {
        var s = TUIState(modelName: "m")
        _ = s.handle(key: .f1)
        XCTAssertEqual(s.focus, .help)
        _ = s.handle(key: .char("x"))
        XCTAssertEqual(s.focus, .input, "any key closes help")
        XCTAssertEqual(s.input.text, "", "the closing key is not typed")
        _ = s.handle(key: .tab)
        _ = s.handle(key: .char("?"))
        XCTAssertEqual(s.focus, .help)
        _ = s.handle(key: .escape)
        XCTAssertEqual(s.focus, .results)
        // Ctrl-C quits from everywhere, even while searching the gallery.
        _ = s.handle(key: .char("g"))
        _ = s.handle(key: .char("/"))
        XCTAssertEqual(s.handle(key: .ctrlC), [.quit])
        XCTAssertTrue(s.shouldQuit)
        XCTAssertEqual(s.handle(key: .resize), [.redraw])
    }

    func testChatScrolling() {
        var s = TUIState(modelName: "m")
        s.chatPageSize = 5
        _ = s.handle(key: .pageUp)
        XCTAssertEqual(s.chatScroll, 4)
        s.clampChatScroll(maximum: 2)
        XCTAssertEqual(s.chatScroll, 2)
        _ = s.handle(key: .pageDown)
        XCTAssertEqual(s.chatScroll, 0)
    }

    func testKeyDecoder() {
        XCTAssertNil(KeyDecoder.decode(status: -1, value: 0), "ERR (timeout) is no key")
        XCTAssertEqual(KeyDecoder.decodeCharacter(3), .ctrlC, "raw mode delivers Ctrl-C as byte 3")
        XCTAssertEqual(KeyDecoder.decodeCharacter(13), .enter)
        XCTAssertEqual(KeyDecoder.decodeCharacter(10), .enter)
        XCTAssertEqual(KeyDecoder.decodeCharacter(9), .tab)
        XCTAssertEqual(KeyDecoder.decodeCharacter(27), .escape)
        XCTAssertEqual(KeyDecoder.decodeCharacter(127), .backspace)
        XCTAssertEqual(KeyDecoder.decodeCharacter(21), .ctrlU)
        XCTAssertEqual(KeyDecoder.decodeCharacter(0x41), .char("A"))
        XCTAssertEqual(KeyDecoder.decodeCharacter(0x65E5), .char("日"))
        XCTAssertEqual(KeyDecoder.decodeCharacter(0xD800), .other(0xD800), "a surrogate is not a character")
        XCTAssertEqual(KeyDecoder.decode(status: 0, value: 0x61), .char("a"))
    }
}

/// Background indexing (`--gallery DIR`): what the status bar says while it runs and after.
final class GalleryUpdateStatusTests: XCTestCase {
    func testStatusBarFollowsIndexingAndAsksForARetrievalWhenPhotosWereAdded() {
        let view = View(options: RenderOptions(asciiOnly: true))
        var s = TUIState(modelName: "m")
        s.gallerySize = 0
        XCTAssertFalse(s.galleryUpdateFinished(GalleryUpdateProgress(phase: .scanning, found: 12)))
        XCTAssertTrue(view.statusText(s).contains("scanning 12 photos"), view.statusText(s))
        XCTAssertFalse(s.galleryUpdateFinished(GalleryUpdateProgress(phase: .indexing, found: 254, done: 37, total: 254)))
        XCTAssertTrue(view.statusText(s).contains("indexing 37/254"), view.statusText(s))
        XCTAssertFalse(view.statusText(s).contains("gallery:"), "the count is shown once indexing is done")

        XCTAssertTrue(s.galleryUpdateFinished(GalleryUpdateProgress(phase: .finished, found: 254, done: 252, total: 252, problems: 2)))
        XCTAssertNil(s.galleryUpdate)
        XCTAssertEqual(s.statusMessage, "2 files could not be indexed (run `dialclip index` for details)")
        s.galleryLoaded((0..<252).map { GalleryEntry(path: "/p/\($0).jpg", caption: "", category: nil) })
        XCTAssertTrue(view.statusText(s).contains("gallery: 252"), view.statusText(s))
        XCTAssertFalse(view.statusText(s).contains("indexing"))
    }

    func testNothingChangedNeedsNoNewRetrieval() {
        var s = TUIState(modelName: "m")
        XCTAssertFalse(s.galleryUpdateFinished(GalleryUpdateProgress(phase: .finished, found: 254)))
        XCTAssertNil(s.statusMessage)
    }
}
