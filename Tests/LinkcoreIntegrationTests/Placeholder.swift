import Testing

@Test func placeholderLinkcoreIntegrationTests() {}
