pdediff_add_test(test_sampler SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sampler.c RANKS 1 2 TIMEOUT 900)
