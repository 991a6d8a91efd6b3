extension Duration {
    /// The duration in whole milliseconds, rounded down, clamped to `Int64`'s range.
    public var wholeMilliseconds: Int64 {
        components.seconds.multipliedClamped(by: 1000).addingClamped(components.attoseconds / 1_000_000_000_000_000)
    }
}
