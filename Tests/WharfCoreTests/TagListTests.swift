import Foundation
import Testing
import WharfCore

@Suite("Tag list")
struct TagListTests {
    let list = TagList(repository: RepositoryName("acme/app")!, names: ["C", "a", "b", "c"])

    @Test("pages start strictly after `last`, by bytes, and hold at most `limit` tags")
    func pages() {
        #expect(Array(list.page(after: nil, limit: 10)) == ["C", "a", "b", "c"])
        #expect(Array(list.page(after: "a", limit: 2)) == ["b", "c"])
        #expect(Array(list.page(after: "B", limit: 1)) == ["C"])
        #expect(Array(list.page(after: "bb", limit: 5)) == ["c"])
        #expect(list.page(after: "c", limit: 5).isEmpty)
        #expect(list.page(after: nil, limit: 0).isEmpty)
    }

    @Test("the document is the tags/list JSON, the same each time it is asked for")
    func document() throws {
        struct Body: Decodable, Equatable { let name: String; let tags: [String] }
        let body = try JSONDecoder().decode(Body.self, from: Data(list.document))
        #expect(body == Body(name: "acme/app", tags: ["C", "a", "b", "c"]))
        #expect(list.document == list.document)
        let empty = TagList.document(repository: RepositoryName("acme/app")!, tags: [String]())
        #expect(String(decoding: empty, as: UTF8.self) == #"{"name":"acme/app","tags":[]}"#)
    }
}
