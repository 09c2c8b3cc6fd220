//! Merging the names of JVM-generated classes and temporary native libraries, so that the
//! same code gets the same frame name in every process: `App$$Lambda$14/0x0000000800c03000`
//! becomes `App$$Lambda_`, as grafana/jfr-parser's `parser/symbols.go`
//! (`mergeJVMGeneratedClasses`, Apache-2.0) does to every symbol before frames are named.
//! The patterns are theirs (Go RE2 syntax, which the `regex` crate shares; `\d` written
//! `[0-9]` since Go's is ASCII only); a cheap substring test guards each one.

use regex::Regex;
use std::sync::LazyLock;

struct Rule {
    /// A substring every match contains.
    needle: &'static str,
    re: Regex,
    replacement: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |needle, pattern: &str, replacement| Rule {
        needle,
        // The patterns are constants, tested below.
        #[allow(clippy::expect_used)]
        re: Regex::new(pattern).expect("valid pattern"),
        replacement,
    };
    vec![
        rule(
            "GeneratedMethodAccessor",
            r"^(jdk/internal/reflect/GeneratedMethodAccessor)([0-9]+)$",
            "${1}_",
        ),
        rule(
            "$$Lambda",
            r"^(.+\$\$Lambda)(\$?[0-9]*[./](0x)?[0-9a-f]+|[0-9]+)$",
            "${1}_",
        ),
        rule(
            "libzstd-jni-",
            r"^(\.?/tmp/)?(libzstd-jni-[0-9]+\.[0-9]+\.[0-9]+-)([0-9]+)(\.so)( \(deleted\))?$",
            "libzstd-jni-_.so",
        ),
        rule(
            "amazonCorrettoCryptoProvider",
            concat!(
                r"^(\.?/tmp/)?(lib)?(amazonCorrettoCryptoProvider)(NativeLibraries\.)?([0-9a-f]{16})",
                r"(/libcrypto|/libamazonCorrettoCryptoProvider)?(\.so)( \(deleted\))?$"
            ),
            "libamazonCorrettoCryptoProvider_.so",
        ),
        rule(
            "libasyncProfiler-",
            concat!(
                r"^(\.?/tmp/)?(libasyncProfiler)-(linux-arm64|linux-musl-x64|linux-x64|macos)-",
                r"(17b9a1d8156277a98ccc871afa9a8f69215f92)(\.so)( \(deleted\))?$"
            ),
            "libasyncProfiler-_.so",
        ),
        rule(
            "$$EnhancerBySpringCGLIB$$",
            r"^(.+\$\$EnhancerBySpringCGLIB\$\$)(.*)$",
            "${1}_",
        ),
    ]
});

/// The merged form of `symbol`, or `None` when no rule changes it.
pub(super) fn merge_generated(symbol: &str) -> Option<String> {
    let mut out: Option<String> = None;
    for rule in RULES.iter() {
        let current = out.as_deref().unwrap_or(symbol);
        if !current.contains(rule.needle) {
            continue;
        }
        let replaced = rule.re.replace_all(current, rule.replacement);
        if let std::borrow::Cow::Owned(s) = replaced {
            out = Some(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::merge_generated;

    #[test]
    fn generated_names_are_merged() {
        let cases = [
            (
                "jdk/internal/reflect/GeneratedMethodAccessor31",
                "jdk/internal/reflect/GeneratedMethodAccessor_",
            ),
            (
                "org/example/rideshare/OrderService$$Lambda$669.0x0000000800fd7318",
                "org/example/rideshare/OrderService$$Lambda_",
            ),
            ("Fib$$Lambda.0x00007ffa600c4da0", "Fib$$Lambda_"),
            ("App$$Lambda$14/0x0000000800c03000", "App$$Lambda_"),
            ("App$$Lambda/0x0000000800c03000", "App$$Lambda_"),
            ("App$$Lambda123", "App$$Lambda_"),
            (
                "libzstd-jni-1.5.1-16931311898282279136.so",
                "libzstd-jni-_.so",
            ),
            (
                "./tmp/libzstd-jni-1.5.1-16931311898282279136.so (deleted)",
                "libzstd-jni-_.so",
            ),
            (
                "./tmp/libamazonCorrettoCryptoProvider109b39cf33c563eb.so",
                "libamazonCorrettoCryptoProvider_.so",
            ),
            (
                "./tmp/amazonCorrettoCryptoProviderNativeLibraries.7382c2f79097f415/libcrypto.so (deleted)",
                "libamazonCorrettoCryptoProvider_.so",
            ),
            (
                "libasyncProfiler-linux-arm64-17b9a1d8156277a98ccc871afa9a8f69215f92.so",
                "libasyncProfiler-_.so",
            ),
            (
                "com/x/Foo$$EnhancerBySpringCGLIB$$abc123",
                "com/x/Foo$$EnhancerBySpringCGLIB$$_",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(merge_generated(input).as_deref(), Some(want), "{input}");
        }
        for unchanged in [
            "java/lang/Thread",
            "lambda$main$1",
            "App$$Lambda",
            "libjvm.so",
        ] {
            assert_eq!(merge_generated(unchanged), None, "{unchanged}");
        }
    }
}
