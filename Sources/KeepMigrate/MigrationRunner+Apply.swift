import Dispatch
import KeepCore
import KeepStore

extension MigrationRunner {
    /// One migration, from its checkpoint to the end (or to a failing document).
    func apply(_ entry: MigrationStatus.Entry, _ script: MigrationScript,
               _ keeper: LeaseKeeper) throws -> MigrationReport.Entry {
        var record = try start(entry, script)
        var result = reportEntry(script, record)
        result.resumed = record.checkpoint != nil

        let total = try documentCount(script.target)
        let started = ContinuousClock.now
        var lastSubmitted = started
        var processed: Int64 = 0
        let storage = storage
        let (holder, lease, onError) = (holder, options.leaseMilliseconds, options.onError)
        // Batch N commits on the store's writer while this thread reads and
        // transforms batch N + 1; one commit in flight keeps them in order.
        let commits = CommitPipeline()
        /// The batch in flight, to decide again on what moved before its commit.
        var pending: MigrationBatch?
        /// Documents of the batch in flight: if it stops the run, they were looked at but not written.
        var inFlight: Int64 = 0
        // However the loop ends, nothing is left writing behind the caller's back.
        defer { _ = try? commits.wait() }
        /// Waits for the commit in flight. Documents changed since they were
        /// read are decided on again here, on this thread and outside the
        /// commit's transaction (no Lua under a lock), and the batch is
        /// committed again; a document that now fails stops the run (`stop`).
        func settle() throws -> MigrationReport.Entry? {
            guard var outcome = try commits.wait(), var batch = pending else { return nil }
            var attempts = 1
            while case .moved(let moved) = outcome {
                guard attempts < Self.commitAttempts else {
                    throw Self.keptMoving(moved, attempts: attempts)
                }
                try checkInterrupt()
                if let failure = try batch.redecide(moved, stopOnFailure: onError == .stop, script.transform) {
                    return try stop(&record, result, at: failure, looked: inFlight, since: lastSubmitted)
                }
                let (retry, now) = (batch, clock.now())
                outcome = try blocking {
                    try await storage.commitMigrationBatch(retry, holder: holder, now: now, leaseMilliseconds: lease)
                }
                attempts += 1
            }
            guard case .committed(let committed) = outcome else { return nil }
            record = committed
            pending = nil
            inFlight = 0
            progress(MigrationProgress(id: record.id, file: script.file.fileName, done: record.scanned, total: total,
                                       changed: record.changed, failed: record.failed,
                                       elapsedSeconds: Self.seconds(since: started),
                                       processedThisRun: processed, finished: false))
            return nil
        }
        for (kind, start) in walk(script.target, from: record.checkpoint) {
            var after = start
            while true {
                try keeper.check()
                try checkInterrupt()
                let documents = try blocking { [after, batchSize = options.batchSize, batchBytes = options.batchBytes] in
                    try await storage.migrationDocuments(kind, after: after, limit: batchSize, byteLimit: batchBytes)
                }
                guard let last = documents.last else { break }
                let transformed = try transform(documents, of: kind, script)
                if let stopped = try settle() { return stopped }
                if let (failure, looked) = transformed.stoppedAt {
                    return try stop(&record, result, at: failure, looked: looked, since: lastSubmitted)
                }
                let submitted = ContinuousClock.now
                let batch = MigrationBatch(record: record, scanned: Int64(documents.count), changes: transformed.changes,
                                           unchanged: transformed.unchanged, failures: transformed.failures,
                                           checkpoint: MigrationCheckpoint(kind: kind, id: last.id),
                                           elapsedMilliseconds: Self.milliseconds(between: lastSubmitted, submitted))
                lastSubmitted = submitted
                inFlight = Int64(documents.count)
                pending = batch
                let now = clock.now()
                commits.submit {
                    try await storage.commitMigrationBatch(batch, holder: holder, now: now, leaseMilliseconds: lease)
                }
                after = last.id
                processed += Int64(documents.count)
            }
        }
        if let stopped = try settle() { return stopped }
        return try finish(&record, script, resumed: result.resumed, total: total, started: started,
                          lastSubmitted: lastSubmitted, processed: processed)
    }

    /// The record `apply` runs under, saved as running: the interrupted or
    /// failed run's (resumed from its checkpoint), or a new one.
    private func start(_ entry: MigrationStatus.Entry, _ script: MigrationScript) throws -> MigrationRecord {
        var record: MigrationRecord
        var startingOver = false
        if let existing = entry.record, existing.state == .running || existing.state == .failed {
            record = existing
            record.state = .running
            record.lastError = nil
        } else {
            record = MigrationRecord(id: script.file.id, name: script.file.name, description: script.description,
                                     target: script.target, checksum: script.file.checksum, state: .running,
                                     keepsBackup: options.keepsBackup, startedAt: clock.now())
            startingOver = true
        }
        record.description = script.description
        record.target = script.target
        record.checksum = script.file.checksum
        try save(record, startingOver: startingOver)
        return record
    }

    /// One batch's documents through the script, sorted into what the commit
    /// writes, or the failing document that stops the run (`--on-error stop`)
    /// and how many of the batch were looked at up to it.
    private struct TransformedBatch {
        var changes: [MigrationChange] = []
        var unchanged: [MigrationDocument] = []
        var failures: [MigrationFailure] = []
        var stoppedAt: (MigrationFailure, looked: Int64)?
    }

    private func transform(_ documents: [MigrationDocument], of kind: DocumentKind,
                           _ script: MigrationScript) throws -> TransformedBatch {
        var batch = TransformedBatch()
        for (index, document) in documents.enumerated() {
            try checkInterrupt()
            switch try script.transform(document) {
            case .unchanged: batch.unchanged.append(document)
            case .changed(let migrated): batch.changes.append(MigrationChange(before: document, after: migrated))
            case .failed(let message):
                let failure = MigrationFailure(kind: kind, id: document.id, message: message)
                if options.onError == .stop {
                    batch.stoppedAt = (failure, Int64(index + 1))
                    return batch
                }
                batch.failures.append(failure)
            }
        }
        return batch
    }

    /// Marks the migration applied once its last batch committed, and reports it.
    private func finish(_ record: inout MigrationRecord, _ script: MigrationScript, resumed: Bool, total: Int64,
                        started: ContinuousClock.Instant, lastSubmitted: ContinuousClock.Instant,
                        processed: Int64) throws -> MigrationReport.Entry {
        record.elapsedMilliseconds += Self.milliseconds(between: lastSubmitted, ContinuousClock.now)
        record.state = .applied
        record.finishedAt = clock.now()
        try save(record, startingOver: false)
        progress(MigrationProgress(id: record.id, file: script.file.fileName, done: record.scanned,
                                   total: max(total, record.scanned), changed: record.changed, failed: record.failed,
                                   elapsedSeconds: Self.seconds(since: started), processedThisRun: processed,
                                   finished: true))
        var result = reportEntry(script, record, resumed: resumed)
        let storage = storage
        let id = record.id
        result.failures = MigrationReport.failures(try blocking { try await storage.migrationFailures(migration: id) })
        return result
    }

    /// How many times a batch is committed before documents that keep
    /// changing under it stop the run (each attempt decides again on them).
    static let commitAttempts = 8

    /// The run stops when the same batch's documents moved at every attempt:
    /// someone edits them faster than the batch commits.
    private static func keptMoving(_ moved: [MigrationMovedDocument], attempts: Int) -> KeepError {
        let names = moved.prefix(3).map { "\($0.kind.rawValue) \($0.id)" }.joined(separator: ", ")
        return KeepError(.conflict, "\(names)\(moved.count > 3 ? " and \(moved.count - 3) more" : "") changed again "
                         + "each time the batch was committed (\(attempts) attempts); nothing of that batch was written. "
                         + "Run `keep migrate up` again to resume from the last checkpoint",
                         details: ["attempts": .integer(Int64(attempts))])
    }

    /// `--on-error stop`: the failing batch is not written; the record keeps
    /// the checkpoint before it and says what failed.
    /// The ledger counts what committed batches did; the report adds the
    /// `looked` documents of the failing batch (up to the failing one) to
    /// `scanned` and the failing document to `failed`, so that it agrees with
    /// the error below it. Nothing of that batch was written (`changed`).
    private func stop(_ record: inout MigrationRecord, _ entry: MigrationReport.Entry,
                      at failure: MigrationFailure, looked: Int64, since lastCommit: ContinuousClock.Instant) throws
        -> MigrationReport.Entry {
        record.state = .failed
        record.lastError = "\(failure.kind.rawValue) \(failure.id): \(failure.message)"
        record.elapsedMilliseconds += Self.milliseconds(since: lastCommit)
        try save(record, startingOver: false)
        var result = entry
        result.state = record.state.rawValue
        result.scanned = record.scanned + max(1, looked)
        result.changed = record.changed
        result.failed = record.failed + 1
        result.elapsedMilliseconds = record.elapsedMilliseconds
        result.error = record.lastError
        result.failures = [MigrationReport.Failure(kind: failure.kind.rawValue, id: failure.id.rawValue,
                                                   message: failure.message)]
        return result
    }

}

/// At most one batch commit in flight, run on Swift's pool while the
/// runner's thread prepares the next batch. Not `Sendable`: only the runner's
/// thread uses it; the commit's task reports through its `TaskOutcome`.
private final class CommitPipeline {
    private var inFlight: TaskOutcome<MigrationBatchOutcome>?

    /// Starts `commit`; the previous one must have been waited for.
    func submit(_ commit: @escaping @Sendable () async throws -> MigrationBatchOutcome) {
        precondition(inFlight == nil, "a migration batch commit is already in flight")
        inFlight = TaskOutcome.start(commit)
    }

    /// What the commit in flight came to, once it is done; nil when none was in flight.
    func wait() throws -> MigrationBatchOutcome? {
        guard let commit = inFlight else { return nil }
        inFlight = nil
        return try commit.wait()
    }
}
