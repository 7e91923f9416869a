public import Foundation

// Canaries: known secret values planted in a test, then searched for wherever a leak
// could land (files, logs, argv, environment), in every encoding a leak could take.

/// Every encoding in which a leaked secret could sit in a file: raw, hex (both cases),
/// and base64 / base64url at each of the three alignments.
public func leakForms(_ canary: String) -> [Data] {
    let bytes: [UInt8] = Array(canary.utf8)
    let lowerHex: String = hexText(bytes)
    var forms: [Data] = []
    forms.append(Data(bytes))
    forms.append(Data(lowerHex.utf8))
    forms.append(Data(lowerHex.uppercased().utf8))
    for pad in 0..<3 {
        let padded: [UInt8] = [UInt8](repeating: 0, count: pad) + bytes
        let encoded: String = Data(padded).base64EncodedString()
        // Skip the characters the padding bytes touch and the last group.
        let skip: Int = pad == 0 ? 0 : 4
        let core: String = String(encoded.dropFirst(skip).dropLast(4))
        forms.append(Data(core.utf8))
        var url: String = core.replacingOccurrences(of: "+", with: "-")
        url = url.replacingOccurrences(of: "/", with: "_")
        forms.append(Data(url.utf8))
    }
    return forms
}

public func hexText(_ bytes: [UInt8]) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var out: String = ""
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return out
}

/// The files under `dir` (except `skipped`) in which some form of some canary appears.
public func leaks(in dir: TemporaryDirectory, canaries: [String], skipping skipped: Set<String> = []) throws -> [String] {
    var found: [String] = []
    for file in dir.allFiles() where !skipped.contains(file) {
        let contents: Data = try Data(contentsOf: URL(fileURLWithPath: file))
        for canary in canaries {
            for form in leakForms(canary) {
                if contents.range(of: form) != nil {
                    let label: String = String(canary.prefix(24))
                    found.append(file + ": " + label)
                }
            }
        }
    }
    return found
}
