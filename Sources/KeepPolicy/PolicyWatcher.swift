#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Watches a policy folder with inotify and reloads the registry when a file
/// in it changes (SPEC §4: a saved change is active within 100 ms). Events
/// that arrive together (an editor's write-rename-chmod) cause one reload.
public final class PolicyWatcher: Sendable {
    /// The write end of the pipe that ends the thread (closing a polled
    /// descriptor would not wake it); -1 once stopped.
    private let stopWriter: Mutex<Int32>

    /// Starts watching; fails when inotify is unavailable.
    public init(registry: PolicyRegistry) throws {
        let descriptor = inotify_init1(Int32(IN_CLOEXEC))
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB)
        guard inotify_add_watch(descriptor, registry.status.directory, mask) >= 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        var stopPipe: [Int32] = [-1, -1]
        guard pipe(&stopPipe) == 0 else {
            close(descriptor)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        stopWriter = Mutex(stopPipe[1])
        let stopReader = stopPipe[0]
        let thread = Thread {
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
        stopWriter.withLock { writer in
            guard writer >= 0 else { return }
            var byte: UInt8 = 1
            _ = write(writer, &byte, 1)
            close(writer)
            writer = -1
        }
    }

    deinit { stop() }
}
