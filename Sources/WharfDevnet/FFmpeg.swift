import Foundation

/// Runs the `ffmpeg` on the PATH without blocking a task thread.
enum FFmpeg {
    /// Runs ffmpeg with `arguments` (after `-hide_banner -loglevel error -y`).
    /// - Throws: ``ReferenceMediaError`` when ffmpeg is missing or exits with an error, with its
    ///   error output.
    static func run(_ arguments: [String]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: ReferenceMediaError(message: "cannot start ffmpeg: \(error)"))
            }
        }
        guard status == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw ReferenceMediaError(message: "ffmpeg failed (\(status)): \(message)")
        }
    }
}
