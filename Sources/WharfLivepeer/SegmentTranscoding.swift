public import Foundation
import NIOCore
import SwiftProtobuf
import WharfCore

/// One rendition a media segment is transcoded into (the wire's `VideoProfile`).
public struct TranscodeProfile: Sendable, Hashable, Codable {
    /// A container for the rendition.
    public enum Container: String, Sendable, Hashable, Codable {
        case mpegts
        case mp4
    }

    /// A name the caller chooses (`720p`).
    public var name: String
    public var width: Int
    public var height: Int
    /// Target bitrate in bits per second.
    public var bitrate: Int
    /// Frames per second; 0 keeps the source rate.
    public var fps: Int
    public var container: Container

    public init(name: String, width: Int, height: Int, bitrate: Int, fps: Int = 0, container: Container = .mpegts) {
        self.name = name
        self.width = width
        self.height = height
        self.bitrate = bitrate
        self.fps = fps
        self.container = container
    }
}

/// What an orchestrator answered for a segment: one result per requested profile, in order.
public struct TranscodedSegment: Sendable, Hashable {
    /// One rendition: where the orchestrator keeps it, and the pixels it encoded (what it charges).
    public struct Rendition: Sendable, Hashable {
        public var url: String
        public var pixels: Int64
    }

    public var sequenceNumber: Int64
    public var renditions: [Rendition]
}

/// An orchestrator answered a segment with a non-2xx status.
public struct SegmentRefused: Error, Sendable, CustomStringConvertible {
    public var status: Int
    /// The start of the orchestrator's answer (plain text upstream).
    public var message: String

    public var description: String { "the orchestrator refused the segment (\(status)): \(message)" }
}

extension TranscodeProfile {
    var wire: Net_VideoProfile {
        .with {
            $0.name = name
            $0.width = Int32(clamping: width)
            $0.height = Int32(clamping: height)
            $0.bitrate = Int32(clamping: bitrate)
            $0.fps = UInt32(clamping: fps)
            $0.format = container == .mp4 ? .mp4 : .mpegts
        }
    }

    /// The profile a `VideoProfile` describes.
    package init(wire: Net_VideoProfile) {
        self.init(
            name: wire.name,
            width: Int(wire.width),
            height: Int(wire.height),
            bitrate: Int(wire.bitrate),
            fps: Int(wire.fps),
            container: wire.format == .mp4 ? .mp4 : .mpegts
        )
    }
}

extension AIJobClient {
    /// Sends one media segment to an orchestrator's `/segment` path for transcoding into `profiles`.
    ///
    /// `Livepeer-Segment` carries the manifest id, sequence number, duration, the wanted renditions
    /// (`fullProfiles3`) and the auth token; the orchestrator answers a protobuf `TranscodeResult`.
    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` when the offer has no auth
    ///   token, the orchestrator answers a `TranscodeResult` error, or its reply
    ///   is not a `TranscodeResult` with one rendition per profile; ``SegmentRefused`` for a non-2xx
    ///   answer; the HTTP client's errors.
    public func transcode(
        segment: Data,
        sequenceNumber: Int64,
        duration: Duration,
        profiles: [TranscodeProfile],
        manifestID: String,
        to offer: OrchestratorOffer,
        pinnedCertificate: [UInt8]?,
        payment: String? = nil,
        timeout: Duration
    ) async throws -> TranscodedSegment {
        guard let token = offer.authToken else {
            throw WharfError(.invalidArgument, "orchestrator \(offer.transcoderURL) gave no auth token")
        }
        var description = LivepeerHeaders.segmentData(authToken: token, manifestID: manifestID)
        description.seq = sequenceNumber
        description.duration = Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        description.fullProfiles3 = profiles.map(\.wire)
        let reply = try await post(
            path: "segment",
            to: offer,
            body: OutgoingBody(segment),
            contentType: "video/MP2T",
            headers: [(LivepeerHeaders.segment, try LivepeerHeaders.encode(description))]
                + (payment.map { [(LivepeerHeaders.payment, $0)] } ?? []),
            pinnedCertificate: pinnedCertificate,
            timeout: timeout
        )
        guard (200..<300).contains(reply.status) else {
            throw SegmentRefused(status: reply.status, message: String(decoding: reply.body.prefix(300), as: UTF8.self))
        }
        let result: Net_TranscodeResult
        do {
            result = try Net_TranscodeResult(serializedBytes: reply.body)
        } catch {
            throw WharfError(.invalidArgument, "the orchestrator's segment reply is not a TranscodeResult", cause: error)
        }
        switch result.result {
        case .error(let message):
            throw WharfError(.invalidArgument, "the orchestrator could not transcode the segment: \(message)")
        case .data(let data):
            guard data.segments.count == profiles.count else {
                throw WharfError(
                    .invalidArgument,
                    "the orchestrator returned \(data.segments.count) renditions for \(profiles.count) profiles"
                )
            }
            return TranscodedSegment(
                sequenceNumber: result.seq,
                renditions: data.segments.map { .init(url: $0.url, pixels: $0.pixels) }
            )
        case nil:
            throw WharfError(.invalidArgument, "the orchestrator's TranscodeResult has neither data nor an error")
        }
    }
}
