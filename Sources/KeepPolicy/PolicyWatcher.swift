#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Watches a policy folder with inotify and reloads the registry when a file
/// in it changes (SPEC §4: a saved change is active within 100 ms). Events
/// that arrive together (an editor's write-rename-chmod) cause one reload.
public final class PolicyWatcher: @unchecked Sendable {
    private let registry: PolicyRegistry
    private let descriptor: Int32
    /// Writing to stopPipe[1] ends the thread (closing a polled descriptor would not wake it).
    private var stopPipe: [Int32] = [-1, -1]
    private let thread: Thread
    private let stopped = NSLock()
    private var isStopped = false

    /// Starts watching; fails when inotify is unavailable.
    public init(registry: PolicyRegistry) throws {
        self.registry = registry
        descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB)
        guard inotify_add_watch(descriptor, registry.status.directory, mask) >= 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        guard pipe(&stopPipe) == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        let descriptor = self.descriptor
        let stopReader = stopPipe[0]
        let registry = self.registry
        thread = Thread {
            defer {
                close(descriptor)
                close(stopReader)
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            var pollers = [pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: stopReader, events: Int16(POLLIN), revents: 0)]
            while true {
                // Block until something changes, then wait 10 ms for the rest of the burst.
                guard poll(&pollers, 2, -1) > 0 else { if errno == EINTR { continue } else { return } }
                if pollers[1].revents != 0 { return }
                if read(descriptor, &buffer, buffer.count) <= 0 { return }
                var single = pollers[0]
                while poll(&single, 1, 10) > 0 {
                    if read(descriptor, &buffer, buffer.count) <= 0 { return }
                }
                registry.reload()
            }
        }
        thread.name = "keep policy watcher"
        thread.start()
    }

    /// Stops watching; the thread ends and closes its descriptors.
    public func stop() {
        stopped.lock()
        defer { stopped.unlock() }
        guard !isStopped else { return }
        isStopped = true
        var byte: UInt8 = 1
        _ = write(stopPipe[1], &byte, 1)
        close(stopPipe[1])
    }

    deinit { stop() }
}
