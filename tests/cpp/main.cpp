// Runs every registered test, or only the group named on the command line.
#include <cstdio>
#include <cstring>
#include <exception>

#include "check.h"
#include "ranker/kernels.h"

int main(int argc, char** argv) {
    const char* only = argc > 1 ? argv[1] : nullptr;
    int ran = 0;
    std::printf("kernels: %s\n", ranker::active_kernels().name);
    for (const auto& test : ranker_test::registry()) {
        if (only != nullptr && std::strcmp(only, test.group) != 0) continue;
        const int before = ranker_test::failures();
        try {
            test.body();
        } catch (const std::exception& e) {
            ++ranker_test::failures();
            std::fprintf(stderr, "%s.%s: unexpected exception: %s\n", test.group, test.name, e.what());
        }
        std::printf("%s %s.%s\n", ranker_test::failures() == before ? "ok  " : "FAIL", test.group, test.name);
        ++ran;
    }
    if (ran == 0) {
        std::fprintf(stderr, "no tests in group '%s'\n", only != nullptr ? only : "");
        return 2;
    }
    std::printf("%d tests, %d failed checks\n", ran, ranker_test::failures());
    return ranker_test::failures() == 0 ? 0 : 1;
}
