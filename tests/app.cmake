# Command-line behaviour of the pdediff executable: usage, -help, bad input, one real run.
set(PDE $<TARGET_FILE:pdediff>)
set(EXPECT_FAIL ${CMAKE_CURRENT_SOURCE_DIR}/expect_fail.sh)
macro(pdediff_cli_test name)
  add_test(NAME ${name} COMMAND ${ARGN})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${PDEDIFF_TEST_ENV}" LABELS "cli" TIMEOUT 120)
endmacro()

pdediff_cli_test(cli_no_subcommand ${EXPECT_FAIL} "usage: .*pdediff <sub-command>" ${PDE})
pdediff_cli_test(cli_unknown_subcommand ${EXPECT_FAIL} "unknown sub-command 'frobnicate'" ${PDE} frobnicate)
pdediff_cli_test(cli_bad_sde_type ${EXPECT_FAIL} "-sde_type" ${PDE} sample -sde_type banana -output "")
pdediff_cli_test(cli_bad_p ${EXPECT_FAIL} "-sde_p -1.*p > 0" ${PDE} sample -sde_type xi -sde_p -1 -output "")
pdediff_cli_test(cli_bad_sigma_max ${EXPECT_FAIL} "-sde_sigma_max 0.5.*sigma_max > 1" ${PDE} sample -sde_type ve -sde_sigma_max 0.5 -output "")
pdediff_cli_test(cli_bad_beta ${EXPECT_FAIL} "-sde_beta_max 0.1 < -sde_beta_min 1" ${PDE} sample -sde_type vp -sde_beta_min 1 -sde_beta_max 0.1 -output "")
pdediff_cli_test(cli_bad_alpha ${EXPECT_FAIL} "-sampler_alpha -1.*>= 0" ${PDE} sample -sampler_type sde -sampler_alpha -1 -output "")
pdediff_cli_test(cli_bad_dtau ${EXPECT_FAIL} "-sampler_dtau 0.*> 0" ${PDE} sample -sampler_type sde -sampler_dtau 0 -output "")
pdediff_cli_test(cli_bad_rtol ${EXPECT_FAIL} "-sampler_rtol -1e-05.*> 0" ${PDE} sample -sampler_rtol -1e-5 -output "")
pdediff_cli_test(cli_bad_output_dir ${EXPECT_FAIL} "Cannot create output file /nonexistent-dir/s.h5.partial" ${PDE} sample -n_samples 10 -output /nonexistent-dir/s.h5)
# -help lists options with their defaults and exits 0
pdediff_cli_test(cli_help ${PDE} -help)
set_tests_properties(cli_help PROPERTIES PASS_REGULAR_EXPRESSION "-sde_type <now ve : formerly ve>.*-sampler_dtau <0.002 : 0.002>")
# a real run at 2 ranks writes a complete HDF5 file under its final name
pdediff_cli_test(cli_sample_np2 ${MPIEXEC_EXECUTABLE} -n 2 --oversubscribe ${PDE} sample -n_samples 2000 -sampler_type ode
  -sde_type vp -output ${CMAKE_CURRENT_BINARY_DIR}/cli_sample.h5)
set_tests_properties(cli_sample_np2 PROPERTIES PASS_REGULAR_EXPRESSION "wrote .*cli_sample.h5")
