# Model file, score callback, signal checkpoint/resume, divergence, train-then-sample (1 and 2 ranks).
pdediff_add_test(test_model SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_model.c RANKS 1 2 TIMEOUT 600)
