import LinkcoreDomain
import LinkcoreWire

// Notices to residents as the wire spells them (notices.proto).

extension NoticeRequest {
    init(wire n: LCSendNotice) {
        self.init(linkCode: n.linkCode, noticeType: n.noticeType, title: n.title, body: n.body, idempotencyKey: n.idempotencyKey)
    }
}

extension NoticeReceipt {
    var wire: LCSendNoticeResponse {
        .with { $0.noticeID = noticeID; $0.repeated = repeated; $0.sentAtMs = sentAtMs }
    }
}

extension NoticeDelivery {
    var wire: LCDeliverNotice {
        .with {
            $0.noticeID = noticeID; $0.linkCode = linkCode; $0.senderOrg = senderOrg; $0.senderName = senderName
            $0.noticeType = noticeType; $0.title = title; $0.body = body; $0.sentAtMs = sentAtMs
        }
    }
}
