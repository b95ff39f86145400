import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `stat` fields the indexer compares.
public struct FileStat: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNs: Int64
    public var isDirectory: Bool
    public var isRegular: Bool

    /// stat(2) (follows symlinks) or lstat(2); nil with errno set on failure.
    public static func of(_ path: String, followSymlinks: Bool = true) -> FileStat? {
        var st = stat()
        let rc = followSymlinks ? stat(path, &st) : lstat(path, &st)
        guard rc == 0 else { return nil }
        #if canImport(Darwin)
        let mtime = Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
        let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
        let type = st.st_mode & S_IFMT
        return FileStat(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size), mtimeNs: mtime,
                        isDirectory: type == S_IFDIR, isRegular: type == S_IFREG)
    }

    static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }
}

/// Which files the walk visits.
public struct WalkOptions: Sendable, Equatable {
    /// Directory names (any depth) or absolute directory paths never entered.
    /// Default mirrors rclip: VCS metadata, JS dependencies, Synology thumbnails.
    public var excludeDirs: [String] = WalkOptions.defaultExcludeDirs
    /// Visit names starting with "." (files and folders). Roots are always visited.
    public var includeHidden = false
    /// Follow symbolic links to files and folders. Loops (a link to an ancestor) and
    /// second paths to an already-visited file or folder are detected by (device, inode)
    /// and skipped, so each file is indexed once, under the first path in sorted order.
    public var followSymlinks = true

    public static let defaultExcludeDirs = [".git", "node_modules", "@eaDir"]

    public init(excludeDirs: [String] = WalkOptions.defaultExcludeDirs, includeHidden: Bool = false, followSymlinks: Bool = true) {
        self.excludeDirs = excludeDirs
        self.includeHidden = includeHidden
        self.followSymlinks = followSymlinks
    }
}

/// One candidate image found by the walk.
struct WalkedFile: Sendable {
    var path: String
    var format: ImageFormat
    var stat: FileStat
    /// Caption sidecar `photo.jpg.txt` beside the file, when the directory lists one.
    var sidecar: String?
}

/// Result of walking the roots.
struct WalkResult {
    var files: [WalkedFile] = []
    /// gallery.jsonl files found (caption sources).
    var captionFiles: [String] = []
    var skippedHidden = 0
    var skippedExcludedDirs = 0
    var skippedLinks = 0
    var brokenLinks = 0
    /// Files with other extensions, by lowercase extension ("" for none).
    var otherFormats: [String: Int] = [:]
    /// Directories or entries that could not be read.
    var problems: [FileProblem] = []
}

/// Recursive, deterministic (sorted) directory walk with symlink-loop protection.
struct FileWalker {
    var options: WalkOptions
    /// Files never reported (the index's own database, WAL and lock files).
    var ignorePaths: Set<String> = []

    func walk(roots: [String], onProgress: ((Int) -> Void)? = nil) -> WalkResult {
        var result = WalkResult()
        var visitedDirs = Set<[UInt64]>()
        var visitedFiles = Set<[UInt64]>()
        let excludeNames = Set(options.excludeDirs.filter { !$0.contains("/") })
        let excludePaths = Set(options.excludeDirs.filter { $0.contains("/") }.map { GalleryPaths.absolute($0) })
        var seen = 0

        for root in roots {
            guard let rs = FileStat.of(root), rs.isDirectory else { continue }
            var stack: [(String, FileStat)] = [(root, rs)]
            while let (dir, ds) = stack.popLast() {
                guard visitedDirs.insert([ds.device, ds.inode]).inserted else { result.skippedLinks += 1; continue }
                guard let names = listDirectory(dir, problems: &result.problems) else { continue }
                let nameSet = Set(names)
                var subdirs: [(String, FileStat)] = []
                for name in names {
                    let path = dir == "/" ? "/" + name : dir + "/" + name
                    if name.hasPrefix(".") && !options.includeHidden { result.skippedHidden += 1; continue }
                    let isLink = FileStat.isSymlink(path)
                    if isLink && !options.followSymlinks { result.skippedLinks += 1; continue }
                    guard let st = FileStat.of(path) else {
                        if isLink { result.brokenLinks += 1 } else {
                            result.problems.append(FileProblem(path: path, reason: .unreadable, message: Self.errnoMessage()))
                        }
                        continue
                    }
                    if st.isDirectory {
                        if excludeNames.contains(name) || excludePaths.contains(path) { result.skippedExcludedDirs += 1; continue }
                        subdirs.append((path, st))
                        continue
                    }
                    guard st.isRegular, !ignorePaths.contains(path) else { continue }
                    if name == "gallery.jsonl" { result.captionFiles.append(path); continue }
                    guard let format = ImageFormat.fromExtension(of: name) else {
                        // Caption sidecars belong to their photo; they are not "other formats".
                        if name.lowercased().hasSuffix(".txt"), ImageFormat.fromExtension(of: String(name.dropLast(4))) != nil,
                           nameSet.contains(String(name.dropLast(4))) { continue }
                        result.otherFormats[(name as NSString).pathExtension.lowercased(), default: 0] += 1
                        continue
                    }
                    guard visitedFiles.insert([st.device, st.inode]).inserted else { result.skippedLinks += 1; continue }
                    let sidecarName = name + ".txt"
                    result.files.append(WalkedFile(path: path, format: format, stat: st,
                                                   sidecar: nameSet.contains(sidecarName) ? path + ".txt" : nil))
                    seen += 1
                    if seen % 256 == 0 { onProgress?(seen) }
                }
                // Depth-first in sorted order: push in reverse so the smallest name pops first.
                stack.append(contentsOf: subdirs.reversed())
            }
        }
        onProgress?(seen)
        return result
    }

    /// Sorted entry names of a directory (bytewise order, for deterministic walks).
    private func listDirectory(_ dir: String, problems: inout [FileProblem]) -> [String]? {
        guard let d = opendir(dir) else {
            problems.append(FileProblem(path: dir, reason: .unreadable, message: "cannot list folder: \(Self.errnoMessage())"))
            return nil
        }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { ptr in
                ptr.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    static func errnoMessage() -> String {
        let code = errno
        return String(cString: strerror(code))
    }
}
