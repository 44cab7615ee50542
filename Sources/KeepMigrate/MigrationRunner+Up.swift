import KeepCore
import KeepLua
import KeepStore

extension MigrationRunner {
    /// Runs the pending migrations through `through` (all when nil).
    /// `accepting` acknowledges changed files by id or name. A dry run reads
    /// everything and writes nothing, not even the lock.
    ///
    /// What to run is decided twice: before the lock, so that a broken file
    /// or a blocked ledger fails before anything is locked; and again under
    /// the lock, from the ledger as it is then, since another runner may
    /// have applied migrations (and released the lock) in between.
    public func up(through: String? = nil, accepting: [String] = [], dryRun: Bool = false) throws -> MigrationReport {
        var scripts: [String: MigrationScript] = [:]
        let preview = try plan(try self.status(), through: through, accepting: accepting, scripts: &scripts)
        var report = MigrationReport(dryRun: dryRun)
        if dryRun {
            for entry in preview.pending {
                var result = try simulate(entry, scripts[entry.id]!)
                result.warnings = scripts[entry.id]!.warnings
                report.migrations.append(result)
            }
            return report
        }
        guard !preview.pending.isEmpty || !preview.accepted.isEmpty else { return report }
        try withLock { keeper in
            let (accepted, pending) = try plan(try self.status(), through: through, accepting: accepting,
                                               scripts: &scripts)
            for entry in accepted {
                var record = entry.record!
                record.checksum = entry.file!.checksum
                try save(record, startingOver: false)
            }
            for entry in pending {
                var result = try apply(entry, scripts[entry.id]!, keeper)
                result.warnings = scripts[entry.id]!.warnings
                report.migrations.append(result)
                if result.state != MigrationRecord.State.applied.rawValue { break }
            }
        }
        return report
    }

    /// The changed files acknowledged and the migrations to run, from
    /// `status`; loads the scripts not loaded yet into `scripts` (by id).
    private func plan(_ status: MigrationStatus, through: String?, accepting: [String],
                      scripts: inout [String: MigrationScript]) throws
        -> (accepted: [MigrationStatus.Entry], pending: [MigrationStatus.Entry]) {
        var accepted: [MigrationStatus.Entry] = []
        for ref in accepting {
            guard let entry = status.entry(ref) else {
                throw KeepError(.notFound, "--accept-changed \(ref): no migration has that number or name")
            }
            guard entry.fileChanged else {
                throw KeepError(.invalid, "--accept-changed \(ref): \(entry.fileName) has not changed since it ran")
            }
            accepted.append(entry)
        }
        let pending = try status.pending(through: through, accepting: Set(accepted.map(\.id)))
        for entry in pending where scripts[entry.id] == nil {
            scripts[entry.id] = try MigrationScript(file: entry.file!, root: directory.path, validator: validator,
                                                    budget: options.budget)
        }
        return (accepted, pending)
    }
}
