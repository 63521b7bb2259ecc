pdediff_add_test(test_train SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_train.c RANKS 1 2)
