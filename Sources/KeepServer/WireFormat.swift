import KeepCore
import KeepJSON
import NIOCore

/// Writes the JSON answers of SPEC §8 (the reference system's shapes,
/// camelCase) straight into bytes: keys in sorted order, every field sent
/// (`null` when absent), times ISO-8601 UTC with milliseconds, strings
/// escaped as KeepJSON escapes them. A document's content is escaped in
/// one pass into the answer's buffer: through Foundation's JSONEncoder,
/// escaping took two thirds of a 1.4 MiB GET.
struct WireWriter: ~Copyable {
    private var out: KeepJSON.ByteBuffer

    /// `capacity`: the bytes the answer is expected to take (it grows past them).
    init(capacity: Int = 512) {
        out = KeepJSON.ByteBuffer(capacity: capacity)
    }

    deinit { out.deallocate() }

    /// The answer's bytes, as a response body.
    var body: NIOCore.ByteBuffer { NIOCore.ByteBuffer(bytes: out.bytes) }

    mutating func string(_ text: String) throws(JSONError) {
        try out.appendQuoted(text)
    }

    mutating func sessionMetadata(_ session: SessionMetadata) throws(JSONError) {
        try openDocumentMetadata(id: session.id, owner: session.owner, title: session.title,
                                 description: session.description, createdAt: session.createdAt, hash: session.hash)
        try raw(#","updatedAt":"#)
        try string(session.updatedAt.iso8601)
        try raw(#","version":"#)
        try out.append(integer: session.version)
        try out.append(UInt8(ascii: "}"))
    }

    mutating func snapshotMetadata(_ snapshot: Snapshot) throws(JSONError) {
        try openDocumentMetadata(id: snapshot.id, owner: snapshot.owner, title: snapshot.title,
                                 description: snapshot.description, createdAt: snapshot.createdAt, hash: snapshot.hash)
        try out.append(UInt8(ascii: "}"))
    }

    /// `{"content": …, "metadata": …}`: a whole session or snapshot.
    /// `sent`: the content as the request sent it, copied when it is this content.
    mutating func document(content: String, sent: SentString? = nil,
                           metadata: (inout WireWriter) throws(JSONError) -> Void) throws(JSONError) {
        try raw(#"{"content":"#)
        if let sent, sent.isLiteral(of: content) {
            try out.append(sent.literal)
        } else {
            try string(content)
        }
        try raw(#","metadata":"#)
        try metadata(&self)
        try out.append(UInt8(ascii: "}"))
    }

    /// `{"items": […], "pageToken": …}`.
    mutating func page<Item>(_ page: Page<Item>,
                             item: (inout WireWriter, Item) throws(JSONError) -> Void) throws(JSONError) {
        try raw(#"{"items":["#)
        for (n, element) in page.items.enumerated() {
            if n > 0 { try out.append(UInt8(ascii: ",")) }
            try item(&self, element)
        }
        try raw(#"],"pageToken":"#)
        try optionalString(page.nextToken)
        try out.append(UInt8(ascii: "}"))
    }

    /// A visit, with the copy of the snapshot's metadata the log keeps (SPEC §1).
    mutating func accessLog(_ log: AccessLog) throws(JSONError) {
        try raw(#"{"firstVisitedAt":"#)
        try string(log.firstVisitedAt.iso8601)
        try raw(#","lastVisitedAt":"#)
        try string(log.lastVisitedAt.iso8601)
        try raw(#","snapshotDeleted":"#)
        try raw(log.snapshotDeleted ? "true" : "false")
        try raw(#","snapshotId":"#)
        try string(log.snapshotID.rawValue)
        try raw(#","snapshotMetadata":"#)
        try openDocumentMetadata(id: log.snapshotID, owner: log.snapshotOwner, title: log.snapshotTitle,
                                 description: log.snapshotDescription, createdAt: log.snapshotCreatedAt,
                                 hash: log.snapshotHash)
        try raw(#"},"visitorId":"#)
        try string(log.visitor)
        try raw(#","visits":"#)
        try out.append(integer: log.visits)
        try out.append(UInt8(ascii: "}"))
    }

    /// The metadata sessions and snapshots share, in key order, with the
    /// object left open: a session's own keys sort after these.
    private mutating func openDocumentMetadata(id: ResourceID, owner: UserID, title: String, description: String?,
                                               createdAt: Timestamp, hash: ContentHash) throws(JSONError) {
        try raw(#"{"contentHash":"#)
        try string(hash.hex)
        try raw(#","createdAt":"#)
        try string(createdAt.iso8601)
        try raw(#","description":"#)
        try optionalString(description)
        try raw(#","id":"#)
        try string(id.rawValue)
        try raw(#","ownerId":"#)
        try string(owner)
        try raw(#","title":"#)
        try string(title)
    }

    /// Text of the shape itself (keys, punctuation, literals).
    private mutating func raw(_ text: StaticString) throws(JSONError) {
        try out.append(text.utf8Start, text.utf8CodeUnitCount)
    }

    private mutating func optionalString(_ text: String?) throws(JSONError) {
        if let text { try string(text) } else { try raw("null") }
    }
}
