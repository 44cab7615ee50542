import Foundation
import KeepCore

/// What a job of one kind needs to run, stored as its JSON `payload` (a flat
/// object with sorted keys: the format databases already hold).
public protocol JobPayload: Codable, Sendable {
    static var kind: JobKind { get }
    /// The fields, as a reason for a payload that does not decode names them.
    static var fields: String { get }
}

extension JobPayload {
    /// The payload's JSON text.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Strings and integers only: encoding cannot fail.
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The payload of `job`; a payload that does not decode throws the reason
    /// (what is missing or wrong, and what the kind holds).
    static func decode(_ job: Job) throws(KeepError) -> Self {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(job.payload.utf8))
        } catch let error as DecodingError {
            throw KeepError(.invalid, "the payload \(Self.problem(error)); a \(kind) payload holds \(fields)")
        } catch {
            throw KeepError(.invalid, "the payload does not decode (\(error)); a \(kind) payload holds \(fields)")
        }
    }

    private static func problem(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map(\.stringValue).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, _):
            return "lacks \(key.stringValue)"
        case .valueNotFound(_, let context):
            return "has null for \(path(context))"
        case .typeMismatch(let type, let context):
            return path(context).isEmpty ? "is not a JSON object" : "has \(path(context)) of the wrong type (not \(type))"
        case .dataCorrupted(let context):
            return path(context).isEmpty ? "is not JSON" : "has a bad \(path(context)): \(context.debugDescription)"
        @unknown default:
            return "does not decode (\(error))"
        }
    }
}

extension JobDraft {
    /// A job running `payload`'s kind at `runAt`.
    public init<Payload: JobPayload>(_ payload: Payload, runAt: Timestamp) {
        self.init(kind: Payload.kind, payload: payload.json, runAt: runAt)
    }
}

/// `mark_logs_deleted`: the snapshot deleted, and when.
public struct MarkLogsDeletedPayload: JobPayload, Equatable {
    public static let kind = JobKind.markLogsDeleted
    public static let fields = "snapshot_id (an id) and deleted_at (ms since the epoch)"

    public var snapshotID: ResourceID
    public var deletedAt: Timestamp

    public init(snapshotID: ResourceID, deletedAt: Timestamp) {
        self.snapshotID = snapshotID
        self.deletedAt = deletedAt
    }

    enum CodingKeys: String, CodingKey {
        case snapshotID = "snapshot_id", deletedAt = "deleted_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        snapshotID = try container.decodeID(.snapshotID)
        deletedAt = Timestamp(millisecondsSinceEpoch: try container.decode(Int64.self, forKey: .deletedAt))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(snapshotID.rawValue, forKey: .snapshotID)
        try container.encode(deletedAt.millisecondsSinceEpoch, forKey: .deletedAt)
    }
}

/// `record_visit`: a visit whose log could not be written when it happened.
public struct RecordVisitPayload: JobPayload, Equatable {
    public static let kind = JobKind.recordVisit
    public static let fields = "snapshot_id (an id), visitor (a user id) and at (ms since the epoch)"

    public var snapshotID: ResourceID
    public var visitor: UserID
    public var at: Timestamp

    public init(snapshotID: ResourceID, visitor: UserID, at: Timestamp) {
        self.snapshotID = snapshotID
        self.visitor = visitor
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case snapshotID = "snapshot_id", visitor, at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        snapshotID = try container.decodeID(.snapshotID)
        let visitor = try container.decode(String.self, forKey: .visitor)
        do {
            self.visitor = try UserID(checking: visitor)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .visitor, in: container, debugDescription: error.message)
        }
        at = Timestamp(millisecondsSinceEpoch: try container.decode(Int64.self, forKey: .at))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(snapshotID.rawValue, forKey: .snapshotID)
        try container.encode(visitor, forKey: .visitor)
        try container.encode(at.millisecondsSinceEpoch, forKey: .at)
    }
}

extension KeyedDecodingContainer {
    /// A resource id; a malformed one is a decoding error naming the field.
    fileprivate func decodeID(_ key: Key) throws -> ResourceID {
        let text = try decode(String.self, forKey: key)
        do {
            return try ResourceID(text)
        } catch {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: error.message)
        }
    }
}
