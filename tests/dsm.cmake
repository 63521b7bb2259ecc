pdediff_add_test(test_dsm SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_dsm.c RANKS 1)
