import Foundation

/// The whitelist and tariff tables of the tests that run the shipped whitelist and fees modules
/// together (FeeTests, MediationRetryTests): one definition, so that a change to the table format
/// is made once.
enum PolicyFixtures {
    /// One rule: a private connector (a bank) asks TAX01 for `income` under BP-TAX.
    static func privateIncomeWhitelist(ruleID: String) -> String {
        """
        [[rule]]
        id = "\(ruleID)"
        bp_id = "BP-TAX"
        task = "test: a bank confirms a customer's declared income"
        requester = "@private"
        provider = "TAX01"
        info_types = ["income"]
        valid_from = "2020-01-01"
        """
    }

    /// Public connectors free; a private connector pays 10 yen per answered mediation (`T-MED`).
    static let mediationTariff = """
        public_free = true

        [[tariff]]
        id = "T-MED"
        operation = "mediation"
        payer = "@private"
        effective_from = "2020-01-01"
        amount_yen = 10
        """

    /// `mediationTariff` plus link issuance charged to private payers (T-LINK, 30 yen).
    static let mediationAndLinkTariff = mediationTariff + "\n\n" + """
        [[tariff]]
        id = "T-LINK"
        operation = "link_issuance"
        payer = "@private"
        effective_from = "2020-01-01"
        amount_yen = 30
        """

    /// Writes `whitelist.toml` and `fees.toml` into `directory`; returns the `[policy]` lines that
    /// load the two modules with them.
    static func whitelistAndFees(whitelist: String, tariff: String, in directory: URL) throws -> String {
        let whitelistPath = directory.appendingPathComponent("whitelist.toml").path
        let feesPath = directory.appendingPathComponent("fees.toml").path
        try whitelist.write(toFile: whitelistPath, atomically: true, encoding: .utf8)
        try tariff.write(toFile: feesPath, atomically: true, encoding: .utf8)
        return Products.policyModules([("whitelist", whitelistPath), ("fees", feesPath)])
    }
}
