import Testing

@Test func placeholderLinkcoreTLSTests() {}
