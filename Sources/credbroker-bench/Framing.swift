import NIOCore

/// Byte-level HTTP/1.1 message framing for the benchmark's floor server and load generator:
/// the length of the first whole message in `buffer` (head plus Content-Length body), or nil
/// if it is incomplete. Kept cheap (no String, no Foundation) so the measuring tools do not
/// become the bottleneck they measure.
func wholeMessageLength(_ buffer: ByteBuffer) -> Int? {
    let view = buffer.readableBytesView
    let count = view.count
    guard count >= 4 else { return nil }
    var i = view.startIndex
    let end = view.endIndex
    var headEnd = -1
    var contentLength = 0
    var lineStart = i
    while i < end - 3 {
        if view[i] == 13 && view[i + 1] == 10 {
            // A header line [lineStart, i): is it Content-Length?
            let length = i - lineStart
            if length > 15 {
                let c = view[lineStart] | 0x20
                if c == UInt8(ascii: "c") && (view[lineStart + 8] | 0x20) == UInt8(ascii: "l") && view[lineStart + 14] == UInt8(ascii: ":") {
                    var j = lineStart + 15
                    var n = 0
                    while j < i {
                        let b = view[j]
                        if b >= 48 && b <= 57 { n = n * 10 + Int(b - 48) }
                        j += 1
                    }
                    contentLength = n
                }
            }
            if view[i + 2] == 13 && view[i + 3] == 10 {
                headEnd = i + 4 - view.startIndex
                break
            }
            lineStart = i + 2
            i += 2
            continue
        }
        i += 1
    }
    guard headEnd >= 0, count >= headEnd + contentLength else { return nil }
    return headEnd + contentLength
}

/// Whether the message at the reader index starts with "HTTP/1.1 200".
func isOK(_ buffer: ByteBuffer) -> Bool {
    let view = buffer.readableBytesView
    guard view.count >= 12 else { return false }
    let s = view.startIndex
    return view[s + 9] == UInt8(ascii: "2") && view[s + 10] == UInt8(ascii: "0") && view[s + 11] == UInt8(ascii: "0")
}
