import BrokerDaemon
import BrokerWire
import BrokerCore
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// `api`: raw bytes from a client, through the daemon's own connection pipeline
/// (timeouts, NIO's HTTP/1.1 decoder, the request handler, the router) on a channel
/// without a socket. The caller is not an admin and there is no vault, so every route
/// answers at once; the admin routes' bodies are `api-json`'s.
///
/// Input: an HTTP/1.1 byte stream (one request or several, pipelined). When the first
/// byte is not a letter it is taken off and says how the stream arrives: in reads of that
/// many bytes (0: all at once), so requests split across reads are fuzzed too.
///
/// Invariants: whatever arrives, every answer is a whole HTTP/1.1 response that the
/// client library's parser reads, with a JSON body, and an error answer carries one of
/// the API's codes with its status (docs/spec/api.md, "Errors"). HTTP's exceptions
/// (docs/spec/api.md, "Conventions"): the answer to a HEAD or a CONNECT has no body, and
/// a CONNECT or an Upgrade request gets the last answer on the connection, which says
/// `Connection: close`.
enum APIFuzz {
    static let target = FuzzTarget(
        name: "api", summary: "HTTP/1.1 bytes through the daemon's connection pipeline (not an admin, no vault)",
        maxLength: 80 * 1024, prepare: {
            _ = run(Array("POST /v1/token HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".utf8))
            harness.settle()
        }, run: run)

    static let harness: RequestHarness = {
        do { return try RequestHarness(directory: Scratch.directory("api")) } catch {
            fatalError("cannot build the request harness: \(error)")
        }
    }()

    static func run(_ input: [UInt8]) -> String? {
        guard let first = input.first else { return nil }
        var stream = ArraySlice(input)
        var readSize = stream.count
        let isLetter = (first >= 0x41 && first <= 0x5A) || (first >= 0x61 && first <= 0x7A)
        if !isLetter {
            stream = stream.dropFirst()
            if first != 0 { readSize = Int(first) }
        }
        let output: [UInt8]
        let heads = RequestHeads()
        switch exchange(stream, readSize: max(1, readSize), heads: heads) {
        case .failure(let problem): return problem.message
        case .success(let bytes): output = bytes
        }
        // The audit lines this input queued are written (and their memory freed) before the
        // next input: otherwise libFuzzer sees more allocations than frees after nearly
        // every input and runs a full leak scan each time.
        harness.settle()
        return check(output, requests: heads.heads)
    }

    struct Problem: Error { var message: String }

    /// Feeds `stream` to a fresh connection and returns everything the daemon wrote.
    static func exchange(_ stream: ArraySlice<UInt8>, readSize: Int, heads: RequestHeads) -> Result<[UInt8], Problem> {
        let channel = EmbeddedChannel()
        do {
            try harness.addHandlers(to: channel, observer: heads)
            try channel.connect(to: SocketAddress(unixDomainSocketPath: "/fuzz")).wait()
        } catch {
            return .failure(Problem(message: "cannot set up the pipeline: \(error)"))
        }
        var output: [UInt8] = []
        var offset = stream.startIndex
        while offset < stream.endIndex && channel.isActive {
            let end = min(stream.endIndex, offset + readSize)
            // A closed or failed channel refuses more bytes; that is an answer, not a finding.
            do { try channel.writeInbound(ByteBuffer(bytes: stream[offset..<end])) } catch { break }
            offset = end
            drain(channel, into: &output)
        }
        drain(channel, into: &output)
        // Also when the daemon closed the connection itself: finish then still cancels the
        // timers left on the loop, which would otherwise keep the channel alive.
        _ = try? channel.finish(acceptAlreadyClosed: true)
        return .success(output)
    }

    static func drain(_ channel: EmbeddedChannel, into output: inout [UInt8]) {
        while let part = try? channel.readOutbound(as: IOData.self) {
            switch part {
            case .byteBuffer(var buffer): output += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .fileRegion: break
            }
        }
    }

    static let statuses: Set<Int> = [200, 400, 403, 404, 405, 409, 413, 423, 429, 431, 500, 503]

    /// Every response whole, readable by the client library, JSON, with a known code.
    /// `requests` are the request heads the daemon's handler got, in order: the n-th
    /// answer is to the n-th of them (an answer past them is to bytes that never made a
    /// head: malformed HTTP). NIO's encoder drops the body of the answer to a HEAD or a
    /// CONNECT by the same count.
    static func check(_ output: [UInt8], requests: [HTTPRequestHead]) -> String? {
        var parser = HTTPResponseParser(maxBodyBytes: 1 << 20)
        parser.append(output)
        var count = 0
        var ended: String? = nil
        while true {
            let request = count < requests.count ? requests[count] : nil
            let bodiless = request.map { $0.method == .HEAD || $0.method == .CONNECT } ?? false
            let response: HTTPResponse
            do {
                guard let next = try parser.next(bodiless: bodiless) else { break }
                response = next
            } catch {
                return "response \(count + 1) is not readable: \(error)"
            }
            count += 1
            if let ended { return "response \(count) follows the answer to \(ended), which ends the connection" }
            if let request, request.method == .CONNECT || request.headers.contains(name: "upgrade") {
                ended = request.method == .CONNECT ? "a CONNECT" : "an Upgrade request"
                guard response.header("Connection") == "close" else { return "response \(count), to \(ended!), does not say Connection: close" }
            }
            guard statuses.contains(response.status) else { return "response \(count) has status \(response.status)" }
            guard response.header("Content-Type") == "application/json" else { return "response \(count) is not application/json" }
            if bodiless {
                guard response.body.isEmpty else { return "response \(count), to a \(request!.method.rawValue), has a body" }
                continue
            }
            let body: JSONValue
            do throws(JSONError) { body = try JSONValue.parse(response.body) } catch { return "response \(count)'s body is not JSON: \(error.message)" }
            if response.status != 200 {
                guard case .object(let envelope) = body, case .object(let error)? = envelope["error"],
                      let code = error["code"]?.string, error["message"]?.string != nil else {
                    return "error response \(count) has no {\"error\": {\"code\", \"message\"}}"
                }
                let wire = WireErrorCode(rawValue: code)
                guard WireErrorCode.all.contains(wire) else { return "error response \(count) has the unknown code \(code)" }
                let expected = [405, 413, 431].contains(response.status) ? WireErrorCode.badRequest.status : response.status
                guard wire.status == expected else { return "error response \(count): code \(code) with status \(response.status)" }
            }
        }
        if parser.bufferedByteCount > 0 { return "the last response is cut short (\(parser.bufferedByteCount) bytes)" }
        return nil
    }
}

/// Records every request head NIO's decoder hands on, in order, and passes all on.
final class RequestHeads: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    var heads: [HTTPRequestHead] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { heads.append(head) }
        context.fireChannelRead(data)
    }
}
