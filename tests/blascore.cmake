# OpenBLAS kernel choice (libcore/blascore.h): the default environment (restart if OpenBLAS picked
# kernels below the CPU), the user's OPENBLAS_CORETYPE kept, PDEDIFF_BLAS_REEXEC=0 kept; 1 and 2 ranks.
pdediff_add_test(test_blascore SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_blascore.c RANKS 1 2
  ARGS -output ${CMAKE_CURRENT_BINARY_DIR}/test_blascore.h5 TIMEOUT 60)
set_tests_properties(test_blascore_np1 test_blascore_np2 PROPERTIES RESOURCE_LOCK test_blascore_file)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64") # Prescott is an x86-64 kernel set
add_test(NAME test_blascore_user COMMAND ${MPIEXEC_EXECUTABLE} -n 2 --oversubscribe $<TARGET_FILE:test_blascore>
  -expect_core Prescott -output ${CMAKE_CURRENT_BINARY_DIR}/test_blascore_user.h5)
set_tests_properties(test_blascore_user PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV};OPENBLAS_CORETYPE=Prescott" LABELS "unit" TIMEOUT 60)
endif()
add_test(NAME test_blascore_keep COMMAND ${MPIEXEC_EXECUTABLE} -n 1 $<TARGET_FILE:test_blascore>
  -expect_kept -output ${CMAKE_CURRENT_BINARY_DIR}/test_blascore_keep.h5)
set_tests_properties(test_blascore_keep PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV};PDEDIFF_BLAS_REEXEC=0" LABELS "unit" TIMEOUT 60)
