"""The prose of docs/llm-performance.md: definitions and pass-count derivations (no measured number)."""

PASS_COUNTS = """\
Gradient passes per OFMU outer step with T inner steps (F = forget, R = retain; GradDiff: 1F + 1R per forget
batch). ∇Φ_β = ∇L_f − β·c·(H_f p + H_r q) needs ∇L_f, ∇L_r and two Hessian-vector products when β > 0: by
central differences 2 more gradients each (3F + 3R per ∇Φ), by forward differences 1 more each, reusing
∇L_f and ∇L_r as the base point (2F + 2R). When β = 0, ∇Φ = ∇L_f (1F). The outer step evaluates ∇Φ and ∇L_r
at θ̃ and takes ∇²Φ·R by differences of ∇Φ: two more ∇Φ (central) or one (forward).

The cheaper estimators (core options of the `ofmu` solver and of the LLM method; forward differences):

* **frozen** (`sim_curvature="frozen"`): ∇²Φ_β·R ≈ σH_f R — the similarity gradient held fixed along R, so the
  outer step's extra ∇Φ costs 1F instead of 2F + 2R (it drops the third-order term β∇²Sim·R);
* **random** (`sim_pick="random"`): one of H_f p, H_r q per ∇Φ, weight 2 (unbiased; a fair coin seeded by
  the draw index): 3 passes per fresh ∇Φ instead of 4;
* **lag m** (`sim_lag=m`): ∇Sim refreshed at every m-th evaluation of ∇Φ (counted over inner and outer
  evaluations across steps) and reused in between: a lagged ∇Φ costs 1F (1F + 1R at the outer step, which
  needs ∇L_r anyway), and a lagged outer evaluation implies frozen curvature (the reused vector is a constant).
  With T = 1 and m = 2 the inner evaluation is the fresh one and the outer one is lagged.

| variant | passes per outer step | per forget batch | × GradDiff, T = 1 | T = 5 | T → ∞ |
|---|---|---|---|---|---|
| fd central, β = 0 | (T + 3)F + 1R | (T + 4)/(T + 1) | 1.25 | 0.75 | 0.5 |
| fd forward, β = 0 | (T + 2)F + 1R | (T + 3)/(T + 1) | 1.00 | 0.67 | 0.5 |
| fd central, β > 0 | (3T + 9)(F + R) | 2(3T + 9)/(T + 1) | 6.00 | 4.00 | 3 |
| fd forward, β > 0 | (2T + 4)(F + R) | 2(2T + 4)/(T + 1) | 3.00 | 2.33 | 2 |
| fd forward, β > 0, frozen | (2T + 3)F + (2T + 2)R | (4T + 5)/(T + 1) | 2.25 | 2.08 | 2 |
| fd forward, β > 0, random + frozen | 3T + 4 passes | (3T + 4)/(T + 1) | 1.75 | 1.58 | 1.5 |
| fd forward, β > 0, lag 2, T = 1 | 4F + 3R | 3.5 | 1.75 | – | – |
| fd forward, β > 0, lag 2 + random, T = 1 | 6 passes | 3 | 1.50 | – | – |
| fd forward, β > 0, lag 4, T = 1 | 11 passes per 2 steps | 2.75 | 1.38 | – | – |

The tests count these oracle calls (tests/ofmu_theory/test_estimators.py, tests/llm/test_benchmark.py). The
exact estimator cannot reach 2× per epoch with β > 0 at any T — every ∇Φ_β costs 2F + 2R, twice GradDiff's
passes for one forget batch, and the outer step adds one more ∇Φ_β for ∇²Φ·R — so every variant that meets the
cost target approximates: it drops the third-order term of the outer step (frozen, lag) or replaces the
similarity gradient by an unbiased one-sample estimate (random). Their errors are in the tables above and
below; whether they matter is the quality table's question.

Candidates measured by argument rather than built (pass counts, same conventions):

* **Reusing the last inner evaluation for the outer step** (``eval_point="outer"``: ∇Φ_β at θ_k, where the
  first inner step already evaluated it): reusing it reuses its forget batch, so a step draws T forget batches
  for (2T + 2)(F + R) passes, 2(T + 1)/T × GradDiff per epoch — no better than the exact estimator.
* **The similarity term on a sub-batch**: with forward differences H_f p on a sub-batch needs the base
  gradient ∇L_f on that same sub-batch, so half the rows cost ½ + ½ = 1 pass, the same as all rows reusing
  ∇L_f: no gain on the path that matters (a gain only for exact HVPs or central differences, both costlier).
* **Forward-mode ∇²Φ·w** (``hvp="fwd_rev"``, torch.func dual tensors over the reverse-mode ∇Φ): measured in
  the table (row `ofmu fwd_rev`); a forward-mode pass through a gradient costs more than the single extra
  gradient of a forward difference, it needs eager attention, and PyTorch has no forward-AD rule for
  ``silu_backward`` (Llama-family MLPs: `python -m llm.gpu_check --tiny --device cpu` fails there).
* **Concatenated forget + retain forward passes**: OFMU needs ∇L_f and ∇L_r separately (the cosine), so one
  backward pass over the concatenated batch cannot replace its two; for GradDiff one pass over 2B rows does
  the same arithmetic as two over B. Not built: it would change both methods alike and leaves the ratios as
  they are on CPU."""

CHEAPER = """\
* **The core's vector arithmetic** (done): the torch backend runs ``mul``, ``div``, norms, AdamW's
  update (``adam_step``: the generic operations in the same order, in place on the buffers it allocates,
  5 new vectors instead of 10) with ``torch._foreach_*`` kernels, ``isfinite`` with one host
  synchronisation, and the commands raise glibc's mmap/trim thresholds (:mod:`ofmu_theory.allocator`):
  on CPU each freshly ``mmap``-ed block paid page faults, which made the core's AdamW update on the
  embedded model 4.6 ms instead of 2.0 ms. What remains is mostly the update itself, which a
  hand-written loop also pays (the targets list PyTorch's own AdamW step beside each overhead); the core's
  update stays out of place (a state is never modified after it is returned, so checkpoints and resumed
  runs stay exact), about 2× PyTorch's in-place AdamW.
* **Memory**: the first-order paths keep no graph of ∇Φ_β (every finite-difference gradient is taken without
  ``create_graph``, and frozen curvature skips the graph on the exact path too: row `ofmu exact, β=0.1,
  frozen`); the exact path's β > 0 memory is that graph.
* Within llm/: forward differences (``fd_scheme="forward"``), the estimator options above, β = 0 when the
  similarity term is not needed, more inner steps T (the outer step's extra ∇Φ is amortised over T + 1 forget
  batches), equal forget and retain batch sizes (the retain passes cost as much as the forget ones only when
  the batches are equal)."""


OPTIONS = """\
* **Data parallel** — `torchrun --nproc_per_node=N -m llm.cli llm unlearn ...` (or the `ofmu` script):
  each rank builds `MiniBatch(rank=, world_size=)` and draws its own disjoint forget and retain rows (the
  union is one process's batch of N × `batch_size` rows; OpenUnlearning's issue 139 was every rank drawing
  the same retain sample), and every value, gradient, Sim and HVP the core sees is the mean over ranks
  (`TorchObjective(reduce=mean_across_ranks)`). The NLL divides by the token count of the whole global batch
  (`llm.objectives.token_mean`), so N ranks compute exactly what one process computes on the combined batch
  (tests/llm/test_distributed.py: GradDiff to 2e-16, OFMU fd to 1e-13, float64). Backend nccl on CUDA
  (`cuda:$LOCAL_RANK`), gloo on CPU; only rank 0 writes; `result.json` records the world size and the
  per-rank and effective (× N) batch sizes. KL retain losses average over each rank's padded positions, as
  OpenUnlearning's do under DDP.
* **`--bf16`** — float32 master parameters θ and forward passes under `torch.autocast(bfloat16)` (CUDA and
  CPU). bf16 parameters were not chosen: with 8 significant bits a change below ~0.2 % of a weight rounds
  away, and both AdamW's steps at TOFU's lr 1e-5 and the finite-difference points θ ± h·v are smaller than
  that. The finite-difference path is then limited by bf16's noise (the accuracy table below).
* **`--gradient-checkpointing`** — the Hugging Face switch, non-reentrant, with each layer's recomputation
  run under the same θ the forward pass used (`llm.runtime.ReparametrizedCheckpoint`): as is, Hugging
  Face's checkpointing recomputes with the module's stored weights once `functional_call` has returned,
  which gave gradients 108 % off at θ ≠ θ_0 (tests/llm/test_runtime.py). Works with `create_graph` (OFMU
  exact) and LoRA.
* **Attention** — the finite-difference path keeps the model's kernel (`sdpa`, `--attn-implementation
  flash_attention_2`); OFMU `hvp="exact"`/`"fwd_rev"` switches to eager attention and composite layer norms
  (fused kernels have no double backward) and says so in a log line and in `result.json` → `runtime`."""
