"""Non-convex problem families (registered in :data:`ofmu_theory.family.FAMILIES`).

* ``shen_chen``: Shen & Chen's 2-D toy; PL non-convex lower level, non-convex upper level.
* ``bome_toy``: BOME's toy with a non-singleton lower-level solution set.
* ``matrix_factorisation``: −½‖UVᵀ − M‖² maximised, min-norm factors; solution value ‖M‖_*.
* ``two_layer_net``: forget/retain unlearning with a tanh network on Gaussian blobs (stochastic).
* ``hyper_cleaning``: data hyper-cleaning (Franceschi et al. 2017) with a linear softmax classifier.
"""

from nonconvex import bome_toy, hyper_cleaning, matrix_factorisation, shen_chen, two_layer_net

__all__ = ["bome_toy", "hyper_cleaning", "matrix_factorisation", "shen_chen", "two_layer_net"]
