# The full-length cells kept in git (results/recipe/*.post.json) against the README's numbers.
add_test(NAME results_readme COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/results_readme.py ${PROJECT_SOURCE_DIR})
set_tests_properties(results_readme PROPERTIES LABELS "unit;np1" TIMEOUT 60)
