/// The randomness routing draws from: the system's, or, for a request that gives a seed, a
/// deterministic sequence (SplitMix64), so the same request with the same seed and the same pool
/// is routed the same way.
public struct RoutingRandom: RandomNumberGenerator, Sendable {
    private var system = SystemRandomNumberGenerator()
    private var state: UInt64?

    /// - Parameter seed: Makes the draws repeatable; `nil` uses the system generator.
    public init(seed: UInt64?) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        guard var value = state else { return system.next() }
        value &+= 0x9E37_79B9_7F4A_7C15
        state = value
        var mixed = value
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A seed for one step of a job: the job's seed mixed with the step's name, so the steps of one
    /// job do not all draw the same numbers.
    public static func seed(_ seed: UInt64, step: String) -> UInt64 {
        // FNV-1a over the step name; stable across runs and processes (unlike `Hasher`).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in step.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return seed ^ hash
    }
}
