import Testing

@Test func placeholderLinkcoreWireTests() {}
