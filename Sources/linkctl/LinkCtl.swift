import ArgumentParser

/// The operator's tool. Each command family lives in its own file; adding one is a single entry in
/// `subcommands` below.
@main
struct LinkCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linkctl",
        abstract: "Operate a linkcore node and make its development PKI.",
        subcommands: [
            PKICommand.self,
            StatusCommand.self,
            ReloadCommand.self,
            OrgCommand.self,
            KeysCommand.self,
            AuditCommand.self,
            FeesCommand.self,
            PolicyCommand.self,
        ]
    )
}
