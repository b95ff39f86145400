/// An RGB colour (8 bits per channel).
public struct RGB: Sendable, Hashable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    /// The 24-bit number 0xRRGGBB (a colour number on `*-direct` terminals).
    public var packed: Int { Int(r) << 16 | Int(g) << 8 | Int(b) }
    public var description: String { "#" + String(packed, radix: 16).leftPadded(to: 6) }

    /// Mean of two colours (ASCII thumbnails: one cell shows two pixels).
    public static func mean(_ a: RGB, _ b: RGB) -> RGB {
        RGB(UInt8((Int(a.r) + Int(b.r)) / 2), UInt8((Int(a.g) + Int(b.g)) / 2), UInt8((Int(a.b) + Int(b.b)) / 2))
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// A colour as the UI asks for it; the renderer maps it to what the terminal can show.
public enum TermColor: Sendable, Hashable {
    /// The terminal's own foreground/background.
    case `default`
    /// One of the 16 ANSI colours (0 black, 1 red, 2 green, 3 yellow, 4 blue, 5 magenta,
    /// 6 cyan, 7 white, 8...15 bright).
    case ansi(Int)
    case rgb(RGB)
}

/// Cell attributes plus colours.
public struct CellStyle: Sendable, Hashable {
    public var fg: TermColor = .default
    public var bg: TermColor = .default
    public var bold = false
    public var reverse = false
    public var dim = false
    public var underline = false
    public init(fg: TermColor = .default, bg: TermColor = .default, bold: Bool = false, reverse: Bool = false,
                dim: Bool = false, underline: Bool = false) {
        self.fg = fg; self.bg = bg; self.bold = bold; self.reverse = reverse; self.dim = dim; self.underline = underline
    }
    public static let plain = CellStyle()
}

/// What the terminal can do with colours.
public enum ColorMode: Sendable, Equatable {
    /// `NO_COLOR` or a terminal without colours: attributes only.
    case none
    /// 8 or 16 colours.
    case ansi16
    /// The xterm 256-colour palette.
    case palette256
    /// 24-bit colour numbers (0xRRGGBB) on `*-direct` terminfo entries.
    case direct

    /// Chooses the mode from the terminal's colour count (`COLORS`) and `NO_COLOR`.
    public static func detect(colors: Int, hasColors: Bool, noColor: Bool) -> ColorMode {
        if noColor || !hasColors || colors < 8 { return .none }
        if colors >= 1 << 24 { return .direct }
        if colors >= 256 { return .palette256 }
        return .ansi16
    }
}

/// The xterm 256-colour palette and nearest-colour search.
public enum XtermPalette {
    /// Channel levels of the 6×6×6 cube (indices 16...231).
    public static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    /// RGB of palette index 16...255 (the cube and the 24 greys); nil below 16, whose
    /// colours the user's terminal theme decides.
    public static func rgb(ofIndex i: Int) -> RGB? {
        switch i {
        case 16...231:
            let n = i - 16
            return RGB(UInt8(cubeLevels[n / 36]), UInt8(cubeLevels[(n / 6) % 6]), UInt8(cubeLevels[n % 6]))
        case 232...255:
            let v = UInt8(8 + 10 * (i - 232))
            return RGB(v, v, v)
        default:
            return nil
        }
    }

    /// Squared Euclidean distance in RGB.
    public static func distance(_ a: RGB, _ b: RGB) -> Int {
        let dr = Int(a.r) - Int(b.r), dg = Int(a.g) - Int(b.g), db = Int(a.b) - Int(b.b)
        return dr * dr + dg * dg + db * db
    }

    private static func nearestCubeLevel(_ v: UInt8) -> Int {
        // Midpoints between the levels 0,95,135,175,215,255.
        let v = Int(v)
        if v < 48 { return 0 }
        if v < 115 { return 1 }
        return min(5, (v - 35) / 40)
    }

    /// Nearest palette index (16...255) to `c` by squared RGB distance. The cube is
    /// searched per channel (the distance is separable), the grey ramp directly; the
    /// closer of the two wins (ties go to the cube).
    public static func nearestIndex(to c: RGB) -> Int {
        let ri = nearestCubeLevel(c.r), gi = nearestCubeLevel(c.g), bi = nearestCubeLevel(c.b)
        let cubeIndex = 16 + 36 * ri + 6 * gi + bi
        let cube = RGB(UInt8(cubeLevels[ri]), UInt8(cubeLevels[gi]), UInt8(cubeLevels[bi]))
        let mean = (Int(c.r) + Int(c.g) + Int(c.b)) / 3
        let greyStep = max(0, min(23, (mean - 3) / 10))
        // Check the neighbours too: the mean is not always the closest grey in RGB distance.
        var bestGrey = 232 + greyStep
        var bestGreyDistance = Int.max
        for step in max(0, greyStep - 1)...min(23, greyStep + 1) {
            let v = UInt8(8 + 10 * step)
            let d = distance(c, RGB(v, v, v))
            if d < bestGreyDistance { bestGreyDistance = d; bestGrey = 232 + step }
        }
        return distance(c, cube) <= bestGreyDistance ? cubeIndex : bestGrey
    }

    /// The standard xterm RGB values of the 8 basic ANSI colours (for 8/16-colour terminals).
    public static let ansi8: [RGB] = [
        RGB(0, 0, 0), RGB(205, 0, 0), RGB(0, 205, 0), RGB(205, 205, 0),
        RGB(0, 0, 238), RGB(205, 0, 205), RGB(0, 205, 205), RGB(229, 229, 229),
    ]

    /// Nearest of the 8 basic colours.
    public static func nearestANSI8(to c: RGB) -> Int {
        var best = 0, bestD = Int.max
        for (i, a) in ansi8.enumerated() {
            let d = distance(c, a)
            if d < bestD { bestD = d; best = i }
        }
        return best
    }
}

/// Turns `TermColor`s into terminal colour numbers for one `ColorMode`, and hands out
/// colour-pair numbers for (fg, bg) combinations, reusing them (ncurses has a limited
/// number of pairs; thumbnails need many). Pure bookkeeping: the renderer does the
/// `init_extended_pair` calls for the pairs this reports as new.
public struct ColorPairCache: Sendable {
    public let mode: ColorMode
    /// Highest pair number we may use (COLOR_PAIRS - 1).
    public let maxPair: Int
    private var pairs: [Int64: Int] = [:]
    private var nextPair = 1
    /// Number of times the cache ran full and started over.
    public private(set) var generation = 0

    public init(mode: ColorMode, colorPairs: Int) {
        self.mode = mode
        self.maxPair = max(0, colorPairs - 1)
    }

    /// The terminal colour number for `c` (-1 = terminal default).
    public func colorNumber(_ c: TermColor) -> Int {
        switch (mode, c) {
        case (.none, _), (_, .default): return -1
        case (.ansi16, .ansi(let n)): return n & 7
        case (_, .ansi(let n)): return max(0, min(15, n))
        case (.ansi16, .rgb(let rgb)): return XtermPalette.nearestANSI8(to: rgb)
        case (.palette256, .rgb(let rgb)): return XtermPalette.nearestIndex(to: rgb)
        case (.direct, .rgb(let rgb)):
            // xterm-direct's setaf treats numbers below 8 as ANSI colours: nudge near-black
            // blues up to 8 (0x000008), which looks the same.
            return max(8, rgb.packed)
        }
    }

    /// The pair number for (fg, bg), and whether it is new (must be initialised) .
    /// Returns pair 0 for default/default. When the pair space is exhausted the cache starts
    /// over (`generation` increases; the renderer then redraws everything).
    public mutating func pair(fg: TermColor, bg: TermColor) -> (pair: Int, fg: Int, bg: Int, isNew: Bool) {
        let f = colorNumber(fg), b = colorNumber(bg)
        if f == -1 && b == -1 { return (0, f, b, false) }
        if maxPair < 1 { return (0, f, b, false) }
        let key = Int64(f + 1) << 32 | Int64(b + 1)
        if let p = pairs[key] { return (p, f, b, false) }
        if nextPair > maxPair {
            pairs.removeAll(keepingCapacity: true)
            nextPair = 1
            generation += 1
        }
        let p = nextPair
        nextPair += 1
        pairs[key] = p
        return (p, f, b, true)
    }

    public var count: Int { pairs.count }
}
