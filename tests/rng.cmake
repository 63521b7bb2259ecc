pdediff_add_test(test_rng SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_rng.c RANKS 1 2)
