# GP flux prior (DESIGN.md section 5) and its ScaLAPACK Cholesky (libcore/slpk.h): 3 ranks
# exercise a 1 x 3 BLACS grid with more process columns than blocks.
pdediff_add_test(test_gp SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_gp.c RANKS 1 2 3 TIMEOUT 120)
