# The job scripts (jobscripts/): the local runner, and the SLURM chain on a real one-node SLURM
# started on localhost for the test (needs root and Debian's slurm-wlm slurmdbd munge
# mariadb-server, which jobscripts/quickstart.sh test installs).
add_test(NAME sweep_local COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/sweep_local.sh $<TARGET_FILE:pdediff> ${CMAKE_CURRENT_BINARY_DIR}/sweep_local)
set_tests_properties(sweep_local PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "cli;jobscripts" TIMEOUT 600 PROCESSORS 2)
add_test(NAME slurm_cluster COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/slurm_cluster.sh $<TARGET_FILE:pdediff> ${CMAKE_CURRENT_BINARY_DIR}/slurm_cluster)
set_tests_properties(slurm_cluster PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "cli;jobscripts;slurm" TIMEOUT 1800
  PROCESSORS 2 RESOURCE_LOCK slurm_ports SKIP_RETURN_CODE 77)
add_test(NAME skip_calibrate COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/skip_calibrate_cli.sh $<TARGET_FILE:pdediff> ${CMAKE_CURRENT_BINARY_DIR}/skip_calibrate)
set_tests_properties(skip_calibrate PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "cli;jobscripts;np2" TIMEOUT 600 PROCESSORS 2)
