import Testing

@Test func placeholderLinkcoreConfigTests() {}
