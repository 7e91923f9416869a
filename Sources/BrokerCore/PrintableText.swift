/// Text from outside the program (a request, a file, a provider's answer) made fit for one
/// line of a message: printable ASCII only, anything else (a terminal escape, a line break,
/// a non-ASCII character) shown as "?", at most `limit` characters, then "..." when cut.
/// What the CLI prints to a terminal must not be able to move its cursor, retitle it or
/// fake a line of output.
package func printableText(_ text: some StringProtocol, limit: Int = 200) -> String {
    var out = ""
    var count = 0
    for scalar in text.unicodeScalars {
        if count == limit { return out + "..." }
        out.unicodeScalars.append(scalar.isASCII && scalar.value >= 0x20 && scalar.value < 0x7F ? scalar : "?")
        count += 1
    }
    return out
}
