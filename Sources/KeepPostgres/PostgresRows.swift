import KeepCore
import PostgresNIO

/// Document text bound as `bytea`: its UTF-8 bytes exactly (see
/// `PostgresSchema` for why). Read back by decoding the column as `String`,
/// which takes a `bytea` value's bytes as they are.
struct DocumentBytes: PostgresNonThrowingEncodable {
    let text: String

    init(_ text: String) { self.text = text }

    static var psqlType: PostgresDataType { .bytea }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer,
                                                  context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(text)
    }
}

extension String {
    /// This text as a `bytea` bind.
    var bytes: DocumentBytes { DocumentBytes(self) }

    /// This text for a `text` column, which cannot hold U+0000: diagnostics
    /// only (error messages, failure reasons), where U+FFFD in its place
    /// loses nothing a reader needs.
    var storableText: String {
        contains("\u{0}") ? replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : self
    }
}

extension PostgresCell {
    /// Its value, read in binary format. The driver asks for every result
    /// column in binary, but labels the rows of its future-based prepared
    /// queries (`CallerDrivenConnection`) with the format of the
    /// statement's description, which is text.
    func value<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        var cell = self
        cell.format = .binary
        return try cell.decode(T.self)
    }
}

/// One row's columns in order: for the rows of `StoredColumns`' lists,
/// whose order Keep knows (by name, each read looks the column up).
struct ColumnReader {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) { cells = row.makeIterator() }

    /// The next column's value.
    mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        guard let cell = cells.next() else {
            throw KeepError(.internal, "a stored row has fewer columns than Keep reads; the schema may have been changed by hand")
        }
        return try cell.value(T.self)
    }
}

/// One row's columns by name.
struct RowReader {
    private let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) { self.row = row.makeRandomAccess() }

    subscript<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) -> T {
        get throws { try row[column].value(T.self) }
    }

    func timestamp(_ column: String) throws -> Timestamp {
        Timestamp(millisecondsSinceEpoch: try self[column, as: Int64.self])
    }

    func optionalTimestamp(_ column: String) throws -> Timestamp? {
        try self[column, as: Int64?.self].map(Timestamp.init(millisecondsSinceEpoch:))
    }

    func id(_ column: String) throws -> ResourceID { try ResourceID(try self[column, as: String.self]) }
}
