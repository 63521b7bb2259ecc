# Density benchmarks (Sec. 5.1): joints and exact conditionals (unit), the Table 1 pipeline on the
# quick configuration end to end (pdediff density + table1, 1 and 2 ranks), and bad input.
pdediff_add_test(test_density SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_density.c RANKS 1 TIMEOUT 300)
