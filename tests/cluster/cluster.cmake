# The 3-host test bed (tests/cluster/cluster.sh): network + UTS namespaces on a private veth bridge, Open MPI
# across them.  Label cluster; skipped (exit 77, with the reason) where namespaces cannot be made.  It takes
# the machine's cores like the MPI tests, hence RESOURCE_LOCK mpi.
sw_script_test(cluster_3hosts COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cluster.sh TIMEOUT 600 LABELS cluster e2e)
set_tests_properties(cluster_3hosts PROPERTIES SKIP_RETURN_CODE 77 RESOURCE_LOCK mpi)
