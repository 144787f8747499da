import Foundation
import LinkcoreDomain
import LinkcoreWire

// Links, change events, the access log and fee statements as the wire spells them.

extension IssueLinkRequest {
    init(wire r: LCIssueLinkRequest) {
        self.init(residentCode: r.residentCode, orgCode: r.orgCode, matchingNumber: r.matchingNumber, expiresAtMs: r.expiresAtMs)
    }
}

extension IssuedLink {
    var wire: LCLinkIssued {
        .with { $0.matchingNumber = matchingNumber; $0.linkCode = linkCode; $0.keyIndex = keyIndex; $0.linkedAtMs = linkedAtMs }
    }
}

extension ChangeKind {
    /// nil for `.unspecified` and kinds this core does not know.
    init?(wire: LCChangeKind) {
        switch wire {
        case .moved: self = .moved
        case .renamed: self = .renamed
        case .died: self = .died
        case .other: self = .other
        default: return nil
        }
    }

    var wire: LCChangeKind {
        switch self {
        case .moved: return .moved
        case .renamed: return .renamed
        case .died: return .died
        case .other: return .other
        }
    }
}

extension ChangeReport {
    init(wire c: LCReportChange) {
        self.init(reportID: c.reportID, residentCode: c.residentCode, kind: ChangeKind(wire: c.kind), occurredAtMs: c.occurredAtMs)
    }
}

extension ChangeEvent {
    var wire: LCChangeEvent {
        // A kind withheld from this receiver is sent as UNSPECIFIED ("changed").
        .with { $0.eventID = eventID; $0.linkCode = linkCode; $0.kind = kind?.wire ?? .unspecified; $0.occurredAtMs = occurredAtMs }
    }
}

extension AccessLogQuery {
    init(wire q: LCAccessLogQuery) {
        self.init(linkCode: q.linkCode, fromMs: q.fromMs, toMs: q.toMs, pageSize: q.pageSize, pageToken: q.pageToken,
                  newestFirst: q.newestFirst)
    }
}

extension AccessLogPage {
    var wire: LCAccessLogPage {
        .with { page in
            page.entries = entries.map { e in
                .with {
                    $0.mediationID = e.mediationID
                    $0.atMs = e.atMs
                    $0.requesterOrg = e.requesterOrg
                    $0.requesterName = e.requesterName
                    $0.providerOrg = e.providerOrg
                    $0.providerName = e.providerName
                    $0.bpID = e.bpID
                    $0.infoType = e.infoType
                    $0.outcome = e.outcome.wire
                    $0.repeats = e.repeats
                    $0.position = e.position
                    $0.hash = Data(e.hash)
                    $0.previousHash = Data(e.previousHash)
                    $0.residentDigest = Data(e.residentDigest)
                    $0.leafHash = Data(e.leafHash)
                    $0.inclusionProof = e.inclusionProof.map { Data($0) }
                }
            }
            page.nextPageToken = nextPageToken
            if let c = checkpoint {
                page.checkpoint = .with {
                    $0.position = c.position; $0.hash = Data(c.hash); $0.atMs = c.atMs
                    $0.signature = Data(c.signature); $0.certificatePem = Data(c.certificate)
                }
            }
            if let h = treeHead {
                page.treeHead = .with {
                    $0.treeSize = h.size; $0.root = Data(h.root); $0.atMs = h.atMs
                    $0.signature = Data(h.signature); $0.certificatePem = Data(h.certificate)
                }
            }
        }
    }
}

extension LinkHolder {
    var wire: LCLinkHolder {
        .with { $0.orgCode = orgCode; $0.orgName = orgName; $0.linkedAtMs = linkedAtMs }
    }
}

extension FeeStatement {
    var wire: LCFeesStatement {
        .with { s in
            s.orgCode = orgCode
            s.orgName = orgName
            s.period = period
            s.lines = lines.map { line in
                .with {
                    $0.operation = line.operation.rawValue
                    $0.tariffID = line.tariffID
                    $0.unitPriceYen = line.unitPriceYen
                    $0.count = line.count
                    $0.amountYen = line.amountYen
                }
            }
            s.totalYen = totalYen
            s.ledgerEntries = ledgerEntries
        }
    }
}
