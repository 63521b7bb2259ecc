# Posterior summaries (CRPS, coverage) and the exact linear-Gaussian posterior (libcore/post.h).
pdediff_add_test(test_post SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_post.c RANKS 1 2 TIMEOUT 120)
# The measurement model: noise in normalised units, sensor masks, their streams (libcore/meas.h).
pdediff_add_test(test_meas SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_meas.c RANKS 1 2)
# The inverse problem end to end through the real executable (generate -> train -> posterior).
foreach(np 1 2)
  add_test(NAME cli_post_np${np} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/post_cli.sh $<TARGET_FILE:pdediff> ${MPIEXEC_EXECUTABLE} ${np} ${CMAKE_CURRENT_BINARY_DIR}/cli_post_np${np})
  set_tests_properties(cli_post_np${np} PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "cli;np${np}" TIMEOUT 600 PROCESSORS ${np})
endforeach()
# Benchmark (label bench): posterior samples/s per rank, ODE and SDE, 1 vs 2 ranks side by side.
add_test(NAME bench_posterior COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/bench_posterior.sh $<TARGET_FILE:pdediff> ${MPIEXEC_EXECUTABLE} ${CMAKE_CURRENT_BINARY_DIR}/bench_posterior)
set_tests_properties(bench_posterior PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "bench" TIMEOUT 1800)
# Reference MCMC of the clipped-prior posterior: elliptical slice sampling against quadrature.
pdediff_add_test(test_mcmc SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_mcmc.c RANKS 1 2 TIMEOUT 120)
