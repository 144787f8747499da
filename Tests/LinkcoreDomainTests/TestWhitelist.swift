import LinkcoreDomain

/// A whitelist for the mediator's tests, from rows `rule_id,bp_id,requester,provider,info_type`
/// (`*`: any requester). Dates are the table's business (LinkcorePolicyTests); every row here is
/// always in force.
struct TestWhitelist: Whitelist {
    struct Row { let id, bp, requester, provider, infoType: String }
    let rows: [Row]

    init(_ text: String) {
        rows = text.split(separator: "\n").map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Row(id: f[0], bp: f[1], requester: f[2], provider: f[3], infoType: f[4])
        }
    }

    func decide(_ q: WhitelistQuery) async -> Result<WhitelistDecision, Refusal> {
        var d = WhitelistDecision(permitted: false)
        if let row = rows.first(where: {
            $0.bp == q.bpID && $0.provider == q.provider.code && ($0.requester == "*" || $0.requester == q.requester.code)
                && $0.infoType == q.infoType
        }) {
            d.permitted = true
            d.ruleID = row.id
        } else {
            d.reason = "no row"
        }
        return .success(d)
    }
}
