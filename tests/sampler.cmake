pdediff_add_test(test_sampler SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sampler.c RANKS 1 2 TIMEOUT 900)
# Benchmark (label bench, excluded from the test command): cost and error per formulation/setting.
add_executable(bench_samplers ${CMAKE_CURRENT_SOURCE_DIR}/bench_samplers.c)
target_link_libraries(bench_samplers PRIVATE pdecore)
add_test(NAME bench_samplers COMMAND ${MPIEXEC_EXECUTABLE} -n 2 --oversubscribe $<TARGET_FILE:bench_samplers>)
set_tests_properties(bench_samplers PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "bench" TIMEOUT 1800)
