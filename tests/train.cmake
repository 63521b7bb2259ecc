pdediff_add_test(test_train SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_train.c RANKS 1 2)
# Benchmark (label bench): 1-rank vs data-parallel training throughput, side by side in one run.
add_executable(bench_train ${CMAKE_CURRENT_SOURCE_DIR}/bench_train.c)
target_link_libraries(bench_train PRIVATE pdecore)
add_test(NAME bench_train COMMAND ${MPIEXEC_EXECUTABLE} -n 2 --oversubscribe $<TARGET_FILE:bench_train>)
set_tests_properties(bench_train PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "bench" TIMEOUT 600)
# Helper for the train/sample CLI tests: a training file with a known conditional law.
add_executable(make_train_data ${CMAKE_CURRENT_SOURCE_DIR}/make_train_data.c)
target_link_libraries(make_train_data PRIVATE pdecore)
