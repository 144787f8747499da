/// `[core] address` as one `"host:port"` or a list of them (several core nodes, issue 16 item 3):
/// the order is the preference; the peer connects to the first that answers and fails over.
extension AdapterConfig.Core {
    /// The addresses to connect to, in order of preference (never empty).
    public var connectAddresses: [ListenAddress] { addresses.isEmpty ? [address] : addresses }
}

extension MatcherConfig.Core {
    /// The addresses to connect to, in order of preference (never empty).
    public var connectAddresses: [ListenAddress] { addresses.isEmpty ? [address] : addresses }
}

extension Section {
    /// A `"host:port"` string (the single-address form) or a non-empty array of them, without
    /// repeats; each port 1-65535.
    func coreAddresses(_ key: String, default value: String) throws(ConfigError) -> [ListenAddress] {
        guard let item = table.item(key), case .array(let elements) = item.value else { return [try address(key, default: value)] }
        guard !elements.isEmpty else { throw error(.invalidValue, key, "expected at least one \"host:port\"", line: item.position.line) }
        var result: [ListenAddress] = []
        for element in elements {
            guard case .string(let text) = element.value else {
                throw error(.wrongType, key, "expected a \"host:port\" string or an array of them, got element \(element.value.literal)",
                            line: element.position.line)
            }
            switch ListenAddress.parse(text) {
            case .success(let address):
                guard address.port > 0 else {
                    throw error(.invalidValue, key, "port 0 cannot be connected to, got \(TOMLValue.quote(text))", line: element.position.line)
                }
                guard !result.contains(address) else {
                    throw error(.invalidValue, key, "\(TOMLValue.quote(text)) is listed twice", line: element.position.line)
                }
                result.append(address)
            case .failure(let problem):
                throw error(.invalidValue, key, "bad address \(TOMLValue.quote(text)): \(problem.reason)", line: element.position.line)
            }
        }
        return result
    }
}
