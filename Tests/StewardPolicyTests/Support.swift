@testable import StewardPolicy

/// Compiles in-memory list files, fed in chunks of `chunkSize` bytes so that line splitting across
/// chunk boundaries is exercised.
func compileLists(
    _ files: [(category: String, format: ListFormat, text: String)], chunkSize: Int = 7
) throws -> CompiledLists {
    var compiler = ListCompiler()
    for file in files {
        let index: Int
        if let existing = compiler.categories.firstIndex(where: { $0.name == file.category }) {
            index = existing
        } else {
            index = try compiler.addCategory(name: file.category, source: "\(file.category).txt")
        }
        let bytes = Array(file.text.utf8)
        var offset = 0
        compiler.ingest(file: "\(file.category).txt", category: index, format: file.format) { chunk in
            guard offset < bytes.count else { return false }
            let end = min(bytes.count, offset + chunkSize)
            chunk = Array(bytes[offset..<end])
            offset = end
            return true
        }
    }
    return compiler.build()
}

/// A list compiler with one domains-format category per (name, text), each file given whole.
func listCompiler(_ files: [(String, String)]) throws -> ListCompiler {
    var compiler = ListCompiler()
    for (name, text) in files {
        let category = try compiler.addCategory(name: name, source: name)
        var given = false
        compiler.ingest(file: name, category: category, format: .domains) { chunk in
            guard !given else { return false }
            chunk = Array(text.utf8)
            given = true
            return true
        }
    }
    return compiler
}

extension CompiledLists {
    func categoryNames(ofName name: String) -> [String] { names(of: categories(ofName: name)) }
}

/// Deterministic pseudo-random numbers (SplitMix64) for the seeded robustness tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
