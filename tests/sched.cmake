pdediff_add_test(test_sched SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sched.c RANKS 1)
