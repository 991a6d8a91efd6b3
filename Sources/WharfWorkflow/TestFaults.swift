#if DEBUG
    import Foundation
    #if canImport(Glibc)
        import Glibc
    #endif
#endif

/// Faults the test suite sets off in a debug build through the environment; a release build has none.
enum TestFaults {
    /// With `WHARF_TEST_KILL_IN_STEP=<step id>`, the process kills itself (SIGKILL) when a step of
    /// that id starts, after its start is saved: a step that takes its gateway down.
    static func stepStarted(_ stepID: String) {
        #if DEBUG
            if ProcessInfo.processInfo.environment["WHARF_TEST_KILL_IN_STEP"] == stepID {
                kill(getpid(), SIGKILL)
            }
        #endif
    }

    /// With `WHARF_TEST_KILL_AFTER_ANSWER=1`, the process kills itself (SIGKILL) when an
    /// orchestrator has answered a paid step and before the step is charged.
    static func stepAnswered() {
        #if DEBUG
            if ProcessInfo.processInfo.environment["WHARF_TEST_KILL_AFTER_ANSWER"] == "1" {
                kill(getpid(), SIGKILL)
            }
        #endif
    }

    /// With `WHARF_TEST_KILL_WHEN_JOB_ENDS=1`, the process kills itself (SIGKILL) when a job has
    /// ended (its final status saved) and before what follows its end (its webhook) is queued.
    static func jobEnded() {
        #if DEBUG
            if ProcessInfo.processInfo.environment["WHARF_TEST_KILL_WHEN_JOB_ENDS"] == "1" {
                kill(getpid(), SIGKILL)
            }
        #endif
    }
}
