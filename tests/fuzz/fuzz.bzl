"""fuzz_target: a libFuzzer target and the replay of its seeds.

fuzz_target(name, srcs, deps, corpus) makes
  * NAME, a cc_binary tagged "fuzz" and "manual": `./dev fuzz` builds it
    with clang and libFuzzer (--config=fuzz); "manual" keeps the ordinary
    gcc build away from it;
  * NAME_replay, a cc_test that runs every input in `corpus` (a filegroup of
    tests/fuzz_corpus/NAME/, seeds and inputs a fuzzer once crashed on)
    through the same target in the ordinary build, with
    tests/fuzz/fuzz_replay_test.cc. It fails if the corpus has fewer than
    `min_seeds` files.
"""

def fuzz_target(name, srcs, deps, corpus, min_seeds = 1, replay_size = "small"):
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs + ["//tests/fuzz:fuzz_check.h"],
        tags = [
            "fuzz",
            "manual",
        ],
        deps = deps,
    )
    native.cc_test(
        name = name + "_replay",
        size = replay_size,
        srcs = srcs + [
            "//tests/fuzz:fuzz_check.h",
            "//tests/fuzz:fuzz_replay_test.cc",
        ],
        copts = [
            "-DFUZZ_CORPUS_DIR='\"tests/fuzz_corpus/%s\"'" % name,
            "-DFUZZ_MIN_SEEDS=%d" % min_seeds,
        ],
        data = [corpus],
        tags = ["asan"],
        deps = deps + ["//third_party:gtest_main"],
    )
