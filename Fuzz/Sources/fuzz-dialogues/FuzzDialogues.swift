import DialCLIP
import Foundation
import FuzzSupport

/// Fuzzes the dialogue JSONL reader and the reply-pool reader. Properties: errors are
/// `DialogueFileError`s; limits hold (turn count, turn length); a parsed file survives a
/// serialise → parse round trip unchanged; reply pools hold no blank or duplicate lines.
@main enum Main { static func main() { FuzzSupport.runLibFuzzer(fuzz) } }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    do {
        let dialogues = try DialogueFile.parse(Data(bytes))
        for d in dialogues {
            if d.turns.count > DialogueFile.maxTurns { FuzzSupport.fail("\(d.turns.count) turns kept") }
            if d.turns.contains(where: { $0.text.count > DialogueFile.maxTurnCharacters }) { FuzzSupport.fail("turn over the cap") }
            if let s = d.shareTurn, s < 0 || s >= d.turns.count { FuzzSupport.fail("share_turn \(s) outside \(d.turns.count)") }
        }
        let again = try DialogueFile.parse(try DialogueFile.serialize(dialogues))
        if again != dialogues { FuzzSupport.fail("serialise/parse round trip changed the dialogues") }
    } catch is DialogueFileError {
    } catch { FuzzSupport.fail("untyped error \(error)") }

    let path = FuzzSupport.writeScratch("replies.txt", bytes)
    do {
        let replies = try ReplyPool.read(path: path)
        if Set(replies).count != replies.count { FuzzSupport.fail("duplicate replies") }
        if replies.contains(where: { $0.isEmpty }) { FuzzSupport.fail("empty reply") }
    } catch is DialogueFileError {
    } catch { FuzzSupport.fail("untyped error \(error)") }
    return 0
}
