import Foundation
import KeepCore

/// The JSON shapes of SPEC §8 (the reference system's, camelCase): every
/// field is sent, `null` when absent; times are ISO-8601 UTC with milliseconds.
enum Wire {
    struct SessionMetadata: Encodable {
        var id, ownerId, title: String
        var description: String?
        var createdAt, updatedAt: String
        var version: Int64
        var contentHash: String

        init(_ session: Session) {
            id = session.id.rawValue
            ownerId = session.owner
            title = session.title
            description = session.description
            createdAt = session.createdAt.iso8601
            updatedAt = session.updatedAt.iso8601
            version = session.version
            contentHash = session.hash.hex
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(ownerId, forKey: .ownerId)
            try container.encode(title, forKey: .title)
            try container.encode(description, forKey: .description)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(updatedAt, forKey: .updatedAt)
            try container.encode(version, forKey: .version)
            try container.encode(contentHash, forKey: .contentHash)
        }

        enum CodingKeys: CodingKey { case id, ownerId, title, description, createdAt, updatedAt, version, contentHash }
    }

    struct SnapshotMetadata: Encodable {
        var id, ownerId, title: String
        var description: String?
        var createdAt, contentHash: String

        init(_ snapshot: Snapshot) {
            id = snapshot.id.rawValue
            ownerId = snapshot.owner
            title = snapshot.title
            description = snapshot.description
            createdAt = snapshot.createdAt.iso8601
            contentHash = snapshot.hash.hex
        }

        /// The copy of the snapshot's metadata an access log keeps (SPEC §1).
        init(copiedInto log: AccessLog) {
            id = log.snapshotID.rawValue
            ownerId = log.snapshotOwner
            title = log.snapshotTitle
            description = log.snapshotDescription
            createdAt = log.snapshotCreatedAt.iso8601
            contentHash = log.snapshotHash.hex
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(ownerId, forKey: .ownerId)
            try container.encode(title, forKey: .title)
            try container.encode(description, forKey: .description)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(contentHash, forKey: .contentHash)
        }

        enum CodingKeys: CodingKey { case id, ownerId, title, description, createdAt, contentHash }
    }

    struct Document<Metadata: Encodable>: Encodable {
        var metadata: Metadata
        var content: String
    }

    struct SnapshotAccessLog: Encodable {
        var visitorId, snapshotId: String
        var visits: Int64
        var firstVisitedAt, lastVisitedAt: String
        var snapshotDeleted: Bool
        var snapshotMetadata: SnapshotMetadata

        init(_ log: AccessLog) {
            visitorId = log.visitor
            snapshotId = log.snapshotID.rawValue
            visits = log.visits
            firstVisitedAt = log.firstVisitedAt.iso8601
            lastVisitedAt = log.lastVisitedAt.iso8601
            snapshotDeleted = log.snapshotDeleted
            snapshotMetadata = SnapshotMetadata(copiedInto: log)
        }
    }

    struct Page<Item: Encodable>: Encodable {
        var items: [Item]
        var pageToken: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(items, forKey: .items)
            try container.encode(pageToken, forKey: .pageToken)
        }

        enum CodingKeys: CodingKey { case items, pageToken }
    }

    /// The bytes of `value` as JSON (slashes not escaped, keys sorted).
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}
