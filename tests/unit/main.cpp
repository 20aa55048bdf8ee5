// The one translation unit that provides Catch2's main() for ckh_unit_tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
