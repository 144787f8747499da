import CLibFuzzer

/// Why each target has its own `main`: SwiftPM links an executable with `main` aliased to
/// `<Module>_main` (so that tests can link executables), which hides libFuzzer's own `main`
/// ("undefined symbol 'FuzzX_main'"). Each target therefore exports `<Module>_main` and hands
/// over to libFuzzer's driver, with its `LLVMFuzzerTestOneInput` as the callback.
public enum FuzzDriver {
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

    public static func run(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ test: TestOneInput) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, test)
    }

    /// The input as bytes (libFuzzer may pass a null pointer for the empty input).
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }
}
