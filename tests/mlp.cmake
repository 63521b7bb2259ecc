# The score network's MLP: gradient check (FD, double), float vs double, a small regression
# trained with inline Adam, architecture/initialisation/error checks. Serial code: 1 rank.
pdediff_add_test(test_mlp SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_mlp.c RANKS 1 TIMEOUT 120)
# Benchmark (label bench, excluded from the test command): forward+backward GFLOP/s of the 5.1
# and 5.2 networks next to OpenBLAS sgemm on the same GEMM sequence.
add_executable(bench_mlp ${CMAKE_CURRENT_SOURCE_DIR}/bench_mlp.c)
target_link_libraries(bench_mlp PRIVATE pdecore)
add_test(NAME bench_mlp COMMAND $<TARGET_FILE:bench_mlp>)
set_tests_properties(bench_mlp PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "bench")
# Benchmark (label bench): the OpenBLAS kernel choice of libcore/blascore.h against the library's own
# pick, side by side: bench_mlp GFLOP/s and bench_train samples/s, with their ratio.
add_test(NAME bench_blascore COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/bench_blascore.sh $<TARGET_FILE:bench_mlp> $<TARGET_FILE:bench_train> ${MPIEXEC_EXECUTABLE})
set_tests_properties(bench_blascore PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "bench")
