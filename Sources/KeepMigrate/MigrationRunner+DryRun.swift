import KeepCore
import KeepLua
import KeepStore

extension MigrationRunner {
    /// What `apply` would do, without writing: counts, failures, sample diffs.
    func simulate(_ entry: MigrationStatus.Entry, _ script: MigrationScript) throws -> MigrationReport.Entry {
        var result = reportEntry(script, nil)
        result.state = "dry_run"
        let resuming = entry.record.flatMap { [.running, .failed].contains($0.state) ? $0 : nil }
        result.resumed = resuming?.checkpoint != nil
        let total = try documentCount(script.target)
        let started = ContinuousClock.now
        var failures: [MigrationFailure] = []
        let storage = storage
        walking: for (kind, start) in walk(script.target, from: resuming?.checkpoint) {
            var after = start
            while true {
                let documents = try blocking { [after, batchSize = options.batchSize, batchBytes = options.batchBytes] in
                    try await storage.migrationDocuments(kind, after: after, limit: batchSize, byteLimit: batchBytes)
                }
                guard let last = documents.last else { break }
                for document in documents {
                    try checkInterrupt()
                    result.scanned += 1
                    switch try script.transform(document) {
                    case .unchanged: continue
                    case .changed(let migrated):
                        result.changed += 1
                        if result.samples.count < options.sampleCount {
                            result.samples.append(try sample(document, migrated, script))
                        }
                    case .failed(let message):
                        result.failed += 1
                        failures.append(MigrationFailure(kind: kind, id: document.id, message: message))
                        if options.onError == .stop {
                            result.error = "\(kind.rawValue) \(document.id): \(message) (a real run stops here)"
                            break walking
                        }
                    }
                }
                after = last.id
                progress(MigrationProgress(id: script.file.id, file: script.file.fileName, done: result.scanned,
                                           total: total, changed: result.changed, failed: result.failed,
                                           elapsedSeconds: Self.seconds(since: started),
                                           processedThisRun: result.scanned, finished: false))
            }
        }
        result.elapsedMilliseconds = Self.milliseconds(since: started)
        result.failures = MigrationReport.failures(failures)
        return result
    }

    func sample(_ before: MigrationDocument, _ after: MigrationDocument,
                        _ script: MigrationScript) throws -> MigrationReport.Sample {
        typealias Change = MigrationReport.Sample.Change
        let content = before.hash == after.hash ? []
            : ContentDiff.lines(before: try script.canonicalText(of: before.content), after: after.content)
        return MigrationReport.Sample(
            kind: before.kind.rawValue, id: before.id.rawValue,
            title: before.title == after.title ? nil : Change(before: before.title, after: after.title),
            description: before.description == after.description
                ? nil : Change(before: before.description, after: after.description),
            content: content)
    }
}
