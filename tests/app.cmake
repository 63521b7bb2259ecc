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
pdediff_cli_test(cli_bad_grid_power ${EXPECT_FAIL} "-sampler_grid_power 0.5: the SDE grid's grading must lie in .1, 10." ${PDE} sample -sampler_type sde -sampler_grid_power 0.5 -output "")
pdediff_cli_test(cli_bad_rtol ${EXPECT_FAIL} "-sampler_rtol -1e-05.*> 0" ${PDE} sample -sampler_rtol -1e-5 -output "")
pdediff_cli_test(cli_bad_output_dir ${EXPECT_FAIL} "Cannot create output file /nonexistent-dir/s.h5.partial" ${PDE} sample -n_samples 10 -output /nonexistent-dir/s.h5)
# -help lists options with their defaults and exits 0
pdediff_cli_test(cli_help ${PDE} -help)
set_tests_properties(cli_help PROPERTIES PASS_REGULAR_EXPRESSION "-sde_type <now ve : formerly ve>.*-sampler_dtau <0.002 : 0.002>")
# a real run at 2 ranks writes a complete HDF5 file under its final name
pdediff_cli_test(cli_sample_np2 ${MPIEXEC_EXECUTABLE} -n 2 --oversubscribe ${PDE} sample -n_samples 2000 -sampler_type ode
  -sde_type vp -output ${CMAKE_CURRENT_BINARY_DIR}/cli_sample.h5)
set_tests_properties(cli_sample_np2 PROPERTIES PASS_REGULAR_EXPRESSION "wrote .*cli_sample.h5")

# pdediff train / sample -model, through the real executable at 2 ranks (fixture: training files and a model).
set(TRAIN_CLI ${CMAKE_CURRENT_SOURCE_DIR}/train_cli.sh)
set(TDIR ${CMAKE_CURRENT_BINARY_DIR}/cli_train)
pdediff_cli_test(cli_train_setup ${TRAIN_CLI} setup ${PDE} $<TARGET_FILE:make_train_data> ${MPIEXEC_EXECUTABLE} ${TDIR})
set_tests_properties(cli_train_setup PROPERTIES FIXTURES_SETUP traindata)
pdediff_cli_test(cli_train_resume ${TRAIN_CLI} resume ${PDE} $<TARGET_FILE:make_train_data> ${MPIEXEC_EXECUTABLE} ${TDIR})
# Failing runs in the fixture directory: none may leave x.h5 (the output they name) or
# x.h5.partial, nor touch the existing model good.h5 and its checkpoint good.ckpt.h5.
macro(pdediff_train_fail name)
  pdediff_cli_test(${name} ${EXPECT_FAIL} ${ARGN})
  set_tests_properties(${name} PROPERTIES WORKING_DIRECTORY ${TDIR} FIXTURES_REQUIRED traindata RESOURCE_LOCK cli_train_dir
    ENVIRONMENT "${PDEDIFF_TEST_ENV};EXPECT_UNCHANGED=good.h5 good.ckpt.h5;EXPECT_ABSENT=x.h5 x.h5.partial")
endmacro()
set_tests_properties(cli_train_resume PROPERTIES FIXTURES_REQUIRED traindata RESOURCE_LOCK cli_train_dir)
set(TRAIN_OPTS -train_epochs 2 -train_batch 200 -net_width 32 -sde_type vp)
pdediff_train_fail(cli_train_no_data "No training data: give -train_data" ${PDE} train -model x.h5)
pdediff_train_fail(cli_train_missing_file "Cannot read nope.h5: no such file" ${PDE} train -train_data nope.h5 -model x.h5)
pdediff_train_fail(cli_train_corrupt_file "corrupt.h5 is not an HDF5 file" ${PDE} train -train_data corrupt.h5 -model x.h5)
pdediff_train_fail(cli_train_no_dataset "data.h5 has no dataset 'yy'" ${PDE} train -train_data data.h5 -train_y yy -model x.h5)
pdediff_train_fail(cli_train_rows_mismatch "dataset x has 2000 rows but y has 1999" ${PDE} train -train_data short.h5 -model x.h5)
pdediff_train_fail(cli_train_nan_row "row 777 holds a NaN or Inf" ${MPIEXEC_EXECUTABLE} -n 2 --oversubscribe ${PDE} train -train_data nan.h5 -model x.h5)
pdediff_train_fail(cli_train_other_arch "was trained for a different problem: network 7-32-32-2 .checkpoint. / 7-16-16-2" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -net_width 16 -model good.h5 -train_restart)
pdediff_train_fail(cli_train_other_sde "different problem: forward process" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -sde_type ve -model good.h5 -train_restart)
pdediff_train_fail(cli_train_bad_t_power "-train_t_power 0.5: must be in .1, 10." ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -train_t_power 0.5 -model x.h5)
pdediff_train_fail(cli_train_bad_step_frac "-adam_step_frac 1.2: the fraction of training before the step schedule drops" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -adam_schedule step -adam_lr_min 1e-4 -adam_step_frac 1.2 -model x.h5)
pdediff_train_fail(cli_train_tail_too_long "-adam_tail_epochs 2 leaves no epochs at -adam_lr: it must be below -train_epochs 2" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -adam_schedule step -adam_lr_min 1e-4 -adam_tail_epochs 2 -model x.h5)
pdediff_train_fail(cli_train_tail_and_frac "-adam_step_frac and -adam_tail_epochs both place the step schedule's drop: give one of them" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -adam_schedule step -adam_lr_min 1e-4 -adam_step_frac 0.5 -adam_tail_epochs 1 -model x.h5)
pdediff_train_fail(cli_train_tail_no_step "-adam_tail_epochs 1 sets the low-rate tail of the step schedule, but -adam_schedule is constant: add -adam_schedule step" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -adam_tail_epochs 1 -model x.h5)
pdediff_train_fail(cli_train_other_t_power "trained with -train_t_power 1 but this run has 3: resume with -train_t_power 1" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -train_t_power 3 -model good.h5 -train_restart)
pdediff_train_fail(cli_train_ckpt_exists "Checkpoint good.ckpt.h5 exists: pass -train_restart" ${PDE} train -train_data data.h5 ${TRAIN_OPTS} -model good.h5)
pdediff_train_fail(cli_train_same_files "-train_checkpoint and -model are the same file" ${PDE} train -train_data data.h5 -model a.h5 -train_checkpoint a.h5)
# -adam_tail_epochs 1 of 3 epochs x 10 steps: the drop after step 20, as -adam_step_frac 0.6667 would place it
pdediff_cli_test(cli_train_tail ${PDE} train -train_data data.h5 -train_epochs 3 -train_batch 200 -net_width 32 -sde_type vp -adam_schedule step -adam_lr_min 1e-4 -adam_tail_epochs 1 -model tail.h5 -train_checkpoint tail.ckpt.h5)
set_tests_properties(cli_train_tail PROPERTIES WORKING_DIRECTORY ${TDIR} FIXTURES_REQUIRED traindata RESOURCE_LOCK cli_train_dir
  PASS_REGULAR_EXPRESSION "Adam lr 0.001 .step to 0.0001 after step 20 of 30.*wrote model tail.h5")
pdediff_train_fail(cli_sample_cond_count "-cond has 2 values but the model good.h5 is conditioned on n_y = 1" ${PDE} sample -model good.h5 -cond 1,2 -output x.h5)
pdediff_train_fail(cli_sample_not_model "data.h5 is not a pdediff model" ${PDE} sample -model data.h5 -cond 1 -output x.h5)
