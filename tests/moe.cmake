# MoE conversion, routers, predictors and their trainers (kernels/sw_mlp, sw_kmeans, sw_moe, sw_predictor).
sw_unit_test(mlp ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_mlp.c LIBS sw_kernels TIMEOUT 60)
sw_unit_test(kmeans ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_kmeans.c LIBS sw_kernels TIMEOUT 60)
sw_unit_test(moe ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_moe.c LIBS sw_kernels TIMEOUT 60)
sw_unit_test(moe_predictor ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_moe_predictor.c LIBS sw_kernels TIMEOUT 60)
sw_unit_test(moefy ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_moefy.c LIBS sw_kernels TIMEOUT 60)
sw_unit_test(moe_trial ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_moe_trial.c LIBS sw_workers TIMEOUT 60)
