"""diffmem_fuzzer: a libFuzzer target plus a `bazel test` that replays its corpus."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")

def diffmem_fuzzer(name, srcs, deps):
    """Defines <name>_lib, <name> (libFuzzer binary, --config=fuzz only) and <name>_regression_test.

    The corpus lives in corpus/<name minus "_fuzzer">/: seeds plus every crash found.
    """
    corpus = "corpus/" + name.replace("_fuzzer", "")
    cc_library(name = name + "_lib", srcs = srcs, deps = deps, alwayslink = True, testonly = True)
    cc_binary(
        name = name,
        deps = [":" + name + "_lib"],
        tags = ["manual", "fuzzer"],  # needs clang's -fsanitize=fuzzer: see run_fuzzers.sh
        testonly = True,
    )
    native.filegroup(name = name + "_corpus", srcs = native.glob([corpus + "/*"]), testonly = True)
    cc_test(
        name = name + "_regression_test",
        srcs = ["fuzz_regression_main.cc"],
        args = [native.package_name() + "/" + corpus],
        data = [":" + name + "_corpus"],
        deps = [":" + name + "_lib"],
    )
