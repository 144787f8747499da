import LinkcoreWire

extension PortalResidentData {
    /// A page read in several requests to the core may straddle a new tree head: a proof is
    /// shown only with the head it leads to (the first one read), so every proof on a page
    /// checks against the one head the page shows. The others follow on the next visit.
    static func keepProof(_ entry: inout LCAccessLogEntry, pageHead: LCAccessLogTreeHead?, shown: LCAccessLogTreeHead?) {
        if pageHead != shown { entry.inclusionProof = [] }
    }
}
