pdediff_add_test(test_adam SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_adam.c RANKS 1)
