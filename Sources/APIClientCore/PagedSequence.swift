/// The items of a cursor-paged API as one asynchronous sequence: Google's
/// `nextPageToken`, Graph's `@odata.nextLink`. A page is fetched when the previous one is
/// used up, so a caller that stops early fetches no more.
public struct PagedSequence<Element: Sendable>: AsyncSequence, Sendable {
    /// A page's items and the cursor of the next page (`nil` or empty: the last page).
    public typealias Page = (items: [Element], next: String?)
    public typealias Fetch = @Sendable (_ cursor: String?) async throws -> Page

    let fetch: Fetch

    /// `fetch(nil)` gives the first page, `fetch(cursor)` the next ones.
    public init(_ fetch: @escaping Fetch) {
        self.fetch = fetch
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(fetch: fetch)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let fetch: Fetch
        var buffer: [Element] = []
        var index = 0
        var cursor: String?
        var started = false
        var finished = false

        public mutating func next() async throws -> Element? {
            while index >= buffer.count {
                if finished { return nil }
                let previous = cursor
                let page = try await fetch(started ? cursor : nil)
                started = true
                buffer = page.items
                index = 0
                cursor = page.next
                if let next = page.next, !next.isEmpty {
                    // A provider that hands back the cursor it was given would loop forever.
                    if next == previous {
                        throw APIError(.invalidResponse, message: "the provider returned the same page cursor twice")
                    }
                } else {
                    finished = true
                }
            }
            defer { index += 1 }
            return buffer[index]
        }
    }

    /// Every item, up to `limit`.
    public func collect(limit: Int = .max) async throws -> [Element] {
        var all: [Element] = []
        guard limit > 0 else { return all }
        for try await item in self {
            all.append(item)
            // Stop at the limit, before the iterator asks for another page.
            if all.count >= limit { break }
        }
        return all
    }
}
