import KeepCore
import KeepLua
import KeepStore

extension MigrationRunner {
    /// Restores every document the migration changed (that nobody changed since).
    /// The checks run again under the lock, on the ledger as it is then.
    public func rollback(_ ref: String) throws -> MigrationReport {
        func checked() throws -> (MigrationStatus.Entry, MigrationRecord) {
            let status = try self.status()
            guard let entry = status.entry(ref) else {
                throw KeepError(.notFound, "rollback \(ref): no migration has that number or name; see `keep migrate status`")
            }
            try status.checkRollback(entry)
            return (entry, entry.record!)
        }
        var (entry, record) = try checked()
        var result = MigrationReport.Entry(id: record.id, file: entry.fileName, description: record.description,
                                           target: record.target.rawValue, state: "")
        try withLock { keeper in
            (entry, record) = try checked()
            record.state = .rollingBack
            try save(record, startingOver: false)
            let started = ContinuousClock.now
            var tally = RollbackTally()
            let storage = storage
            let (holder, lease, id) = (holder, options.leaseMilliseconds, record.id)
            while true {
                try keeper.check()
                try checkInterrupt()
                let backups = try blocking { [batchSize = options.batchSize] in
                    try await storage.migrationBackups(migration: id, limit: batchSize)
                }
                if backups.isEmpty { break }
                let now = clock.now()
                tally = tally + (try blocking {
                    try await storage.commitRollbackBatch(migration: id, backups, holder: holder, now: now,
                                                          leaseMilliseconds: lease)
                })
                let done = tally.restored + tally.conflicts + tally.gone
                progress(MigrationProgress(id: id, file: entry.fileName, done: done, total: max(record.changed, done),
                                           changed: tally.restored, failed: tally.conflicts,
                                           elapsedSeconds: Self.seconds(since: started), processedThisRun: done,
                                           finished: false))
            }
            let done = tally.restored + tally.conflicts + tally.gone
            progress(MigrationProgress(id: id, file: entry.fileName, done: done, total: done, changed: tally.restored,
                                       failed: tally.conflicts, elapsedSeconds: Self.seconds(since: started),
                                       processedThisRun: done, finished: true))
            record.state = .rolledBack
            record.checkpoint = nil
            record.lastError = nil
            record.finishedAt = clock.now()
            try save(record, startingOver: false)
            result.state = record.state.rawValue
            result.restored = tally.restored
            result.conflicts = tally.conflicts
            result.gone = tally.gone
            result.elapsedMilliseconds = Self.milliseconds(since: started)
            let failures = try blocking { try await storage.migrationFailures(migration: id) }
            result.failures = MigrationReport.failures(failures.filter { $0.message.hasPrefix("rollback:") })
        }
        var report = MigrationReport(dryRun: false)
        report.migrations = [result]
        return report
    }
}
