# Forward model: manufactured solution, sensors on 1 vs 2 ranks, linearity, blocked solves.
pdediff_add_test(test_fem SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_fem.c RANKS 1 2 TIMEOUT 300)
