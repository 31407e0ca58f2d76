#ifndef SHARDTRAIN_CSHARDKERNELS_H
#define SHARDTRAIN_CSHARDKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Logistic-regression sums over one block of rows (row-major `x`, `rows x cols`).
///
///     z_i  = x_i · w + b
///     l_i  = softplus(z_i) - y_i z_i          (softplus(z) = max(z,0) + log(1 + exp(-|z|)))
///     r_i  = sigmoid(z_i) - y_i
///     out[0]          = Σ_i l_i
///     out[1 + j]      = Σ_i r_i x_ij          (j < cols)
///     out[1 + cols]   = Σ_i r_i               (bias)
///
/// `out` has `cols + 2` doubles and is overwritten. Parameters are float64; the f32 variant rounds them
/// to float once. Sums are accumulated in double across tiles, so the block result does not depend on
/// anything but the block's rows and the parameters.
///
/// With e = exp(-|z|) and q = e / (1 + e) the residual is evaluated without cancellation:
///
///     r_i = (1 - y_i) - q     if z_i >= 0
///     r_i = q - y_i           if z_i <  0
///
/// The entry points pick the AVX2+FMA path when the CPU has it and the portable path otherwise; the
/// same inputs on the same CPU always give the same bits (the summation order depends only on `rows`
/// and `cols`). The f32 AVX2 path computes z, the sigmoid and the softplus in float and sums within a
/// tile of at most 64 rows in float lanes; the f64 AVX2 path computes everything in double (the vector
/// exp and log1p of `shardtrain_exp_f64` / `shardtrain_log1p_unit_f64`, within 1 ulp of libm) and sums
/// the loss and the bias residual in 4 double lanes (lane k: rows 4g + k of the block), added pairwise at
/// the end. The `_portable` variants compute everything in double (libm), one row at a time.
void shardtrain_logistic_sums_f32(const float *x, const float *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out);
void shardtrain_logistic_sums_f64(const double *x, const double *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out);
void shardtrain_logistic_sums_f32_portable(const float *x, const float *y, size_t rows, size_t cols,
                                           const double *w, double b, double *out);
void shardtrain_logistic_sums_f64_portable(const double *x, const double *y, size_t rows, size_t cols,
                                           const double *w, double b, double *out);

/// 1 when this CPU runs the AVX2+FMA paths, 0 when the entry points fall back to the portable code.
int shardtrain_kernels_have_avx2_fma(void);
/// 1 when this CPU also has AVX-512 F, DQ, BW and VL (with the OS saving the ZMM state): the softmax and pinball
/// sums of shardtrain_linear_sums_f32/_f64 then run in 512-bit vectors (see `vectors`).
int shardtrain_kernels_have_avx512(void);

/// Σ_i x_i over `count` floats, read once each with SIMD loads (the read-bandwidth baseline).
/// Lanes are summed in float within runs of 4096 values and in double across runs.
double shardtrain_read_sum_f32(const float *x, size_t count);
/// Σ_i x_i over `count` doubles, read once each with SIMD loads (four double lanes per load).
double shardtrain_read_sum_f64(const double *x, size_t count);

/// The float exp used by the f32 logistic path, applied element-wise (`out[i] = exp(in[i])`).
/// Range reduction x = n ln2 + t (|t| <= ln2/2), degree-7 polynomial for exp(t), scaling by 2^n in
/// two steps so results down to the smallest subnormal are produced; exp(x) = +inf for
/// x > 88.7228394 and 0 for x < -103.972084. Returns 1 if the AVX2 code ran, 0 if libm expf was used.
int shardtrain_exp_f32(const float *in, float *out, size_t count);

/// The float log1p used by the f32 logistic path on its domain 0 <= x <= 1 (the softplus term
/// log1p(exp(-|z|))). Uses log1p(x) = 2 atanh(s), s = x / (2 + x), after mapping x >= 0.5 to
/// ln 2 + log1p((x - 1) / 2), so |s| <= 0.2. Returns 1 if the AVX2 code ran, 0 if libm log1pf was used.
int shardtrain_log1p_unit_f32(const float *in, float *out, size_t count);

/// The element-wise classification losses computed by `shardtrain_elementwise_loss_f32/_f64`.
typedef enum {
    /// Binary cross-entropy on probabilities, clipped to [clip_low, clip_high]:
    ///     pc = clip(p),  loss = -(y log pc + (1 - y) log(1 - pc))     (one log when y is 0 or 1)
    ///     d/dp = (pc - y) / (pc (1 - pc)) if clip_low <= p <= clip_high, else 0
    ///     outside the domain: y or p not in [0, 1] (NaN included)
    SHARDTRAIN_LOSS_BCE_PROBABILITY = 0,
    /// Binary cross-entropy from logits:
    ///     e = exp(-|z|),  loss = (max(z, 0) - y z) + log1p(e),  d/dz = (z >= 0 ? 1 : e) / (1 + e) - y
    ///     outside the domain: y not in [0, 1], or z NaN or ±inf
    SHARDTRAIN_LOSS_BCE_LOGITS = 1,
    /// Focal loss on probabilities (y in {0, 1}), with w = weight_positive if y = 1 else weight_negative:
    ///     pc = clip(p),  p_t = y = 1 ? pc : 1 - pc,  q = y = 1 ? 1 - pc : pc,  ce = -log(p_t)
    ///     loss = (w q^γ) ce,  d/dp = ∓ w (γ q^(γ-1) ce + q^γ / p_t) inside the clip (minus for y = 1), else 0
    ///     outside the domain: y (1 - y) != 0 or p not in [0, 1]
    SHARDTRAIN_LOSS_FOCAL_PROBABILITY = 2,
    /// Focal loss from logits (y in {0, 1}):
    ///     e = exp(-|z|),  ce = (max(z, 0) - y z) + log1p(e),  large = 1 / (1 + e),  small = e · large
    ///     p_t = sigmoid(s z), q = sigmoid(-s z) (s = ±1 for y = 1 / 0, taken from large / small)
    ///     loss = (w q^γ) ce,  d/dz = ∓ (w q^γ) (γ p_t ce + q)   (minus for y = 1)
    ///     outside the domain: y (1 - y) != 0, or z NaN or ±inf
    SHARDTRAIN_LOSS_FOCAL_LOGITS = 3,
} shardtrain_elementwise_loss_kind;

/// Parameters of one element-wise loss evaluation. Values used by the f32 entry points are rounded
/// to float first (callers pass float values, so that rounding is exact).
typedef struct {
    shardtrain_elementwise_loss_kind kind;
    /// Focal exponent γ: only 0, 1 and 2 are supported (other values return SHARDTRAIN_UNSUPPORTED).
    double gamma;
    /// Focal class weights (w for y = 1 and y = 0); unused by the cross-entropies.
    double weight_positive;
    double weight_negative;
    /// Probability clip [clip_low, clip_high] of the probability losses.
    double clip_low;
    double clip_high;
    /// Factor applied to every derivative (the reduction weight: 1 / M for a mean, else 1).
    double gradient_scale;
} shardtrain_elementwise_params;

/// Returned by the element-wise entry points for a parameter set they do not handle.
#define SHARDTRAIN_UNSUPPORTED ((size_t)-1)

/// One pass over `count` elements: writes loss[i] and gradient[i] = scale · d loss_i / d prediction_i and
/// stores the plain sum of the losses in `*total`:
///
///     elements in blocks of 1024; within a block eight running sums s_k += loss[i] (k = i mod 8 over
///     the block's whole groups of eight, the block's last count mod 8 losses go to s_0 in order),
///     block sum = ((s_0 + s_1) + (s_2 + s_3)) + ((s_4 + s_5) + (s_6 + s_7)),  total = Σ block sums
///
/// (a fixed order that depends only on `count`). Returns `count` when every element is inside the
/// loss's domain, the index of the first element outside it otherwise (the pass stops after that
/// element's block; `*total` is then meaningless), or SHARDTRAIN_UNSUPPORTED. The f32 variants compute
/// in float. The AVX2+FMA path uses the vector exp/log/log1p below; the `_portable` variants use libm.
size_t shardtrain_elementwise_loss_f64(const shardtrain_elementwise_params *params, const double *target,
                                       const double *prediction, size_t count, double *loss, double *gradient,
                                       double *total);
size_t shardtrain_elementwise_loss_f32(const shardtrain_elementwise_params *params, const float *target,
                                       const float *prediction, size_t count, float *loss, float *gradient,
                                       float *total);
size_t shardtrain_elementwise_loss_f64_portable(const shardtrain_elementwise_params *params, const double *target,
                                                const double *prediction, size_t count, double *loss,
                                                double *gradient, double *total);
size_t shardtrain_elementwise_loss_f32_portable(const shardtrain_elementwise_params *params, const float *target,
                                                const float *prediction, size_t count, float *loss, float *gradient,
                                                float *total);

/// The double vector functions of the element-wise losses, applied to arrays (`out[i] = f(in[i])`).
/// Each returns 1 if the AVX2 code ran, 0 if libm was used.
///
///     exp:   every double; x > 709.782712893384 gives +inf, x < -745.1332191019412 gives 0, subnormal
///            results are produced in two scaling steps.
///     log:   every double (0 gives -inf, +inf gives +inf, x < 0 and NaN give NaN; subnormals scaled).
///     log1p: 0 <= x <= 1 (the softplus tail log1p(exp(-|z|))).
int shardtrain_exp_f64(const double *in, double *out, size_t count);
int shardtrain_log_f64(const double *in, double *out, size_t count);
int shardtrain_log1p_unit_f64(const double *in, double *out, size_t count);
/// The float log of the f32 element-wise losses, on every float (same special values as the double one).
int shardtrain_log_f32(const float *in, float *out, size_t count);

/// The losses of `shardtrain_linear_sums_f32/_f64`: linear models with Q outputs per row,
/// s_iq = Σ_d x_id W_dq + b_q (W row-major D x Q, then b; see shardtrain_linear_sums_f32 for the precision).
typedef enum {
    /// Labels y = ±1, Q = 1, m = 1 − y s. Exact (smoothing μ = 0): loss = max(m, 0), ∂/∂s = m > 0 ? −y : 0.
    /// Huber-smoothed (μ > 0): m <= 0: (0, 0); m >= μ: (m − μ/2, −y); else (m²/(2μ), −y m/μ).
    SHARDTRAIN_LINEAR_HINGE = 0,
    /// Real targets, Q levels τ_q, e_q = y − s_q: loss = (1/Q) Σ_q ρ_q(e_q), ∂/∂s_q = ρ_q'/Q with
    /// ρ(e) = e (τ − [e < 0]), ∂ρ/∂s = [e < 0] − τ ([e > 0] + [e < 0]) (exact, 0 at e = 0), or for μ > 0
    /// e >= τμ: (τ e − τ²μ/2, −τ); e <= −(1 − τ)μ: ((τ − 1) e + (1 − τ)(−(1 − τ)μ)/2, 1 − τ); else (e²/(2μ), −e/μ).
    SHARDTRAIN_LINEAR_PINBALL = 1,
    /// Class indices y in 0…K−1 (K = Q >= 2), class weights c: h = max_k s_k, Σ = Σ_k exp(s_k − h),
    /// lse = h + log Σ, loss = c_y (lse − s_y), ∂/∂s_k = c_y (exp(s_k − h) · (1/Σ) − [k = y]).
    SHARDTRAIN_LINEAR_SOFTMAX = 2,
    /// Labels y in {0, 1}, Q = 1: the focal loss from logits of SHARDTRAIN_LOSS_FOCAL_LOGITS with
    /// γ in {0, 1, 2} and α_t = weight_positive (y = 1) / weight_negative (y = 0), times the class weight
    /// c_y (γ = 0 with α_t = 1 is the binary cross-entropy from logits).
    SHARDTRAIN_LINEAR_FOCAL = 3,
} shardtrain_linear_loss_kind;

typedef enum {
    SHARDTRAIN_VECTORS_WIDEST = 0,
    SHARDTRAIN_VECTORS_AVX2 = 1,
} shardtrain_vector_width;

typedef struct {
    shardtrain_linear_loss_kind kind;
    /// Q: 1 for hinge and focal, the number of levels (pinball) or classes (softmax).
    size_t outputs;
    /// μ >= 0 of the hinge and pinball losses (0 = exact).
    double smoothing;
    /// Pinball: the Q levels τ_q.
    const double *levels;
    /// Softmax: K class weights; focal: [c_0, c_1]; NULL = all 1.
    const double *class_weights;
    /// Focal: γ and α_t.
    double gamma;
    double weight_positive;
    double weight_negative;
    /// The widest vectors the kernel may use: SHARDTRAIN_VECTORS_WIDEST (0, the default of a zeroed struct) uses
    /// AVX-512 (softmax and pinball) where the CPU has it, SHARDTRAIN_VECTORS_AVX2 never does. The two differ in the
    /// last bits (other summation orders of the scores, the loss and the gradient), so every process of one run must
    /// use the same.
    shardtrain_vector_width vectors;
} shardtrain_linear_params;

/// Block sums of a linear model (row-major `x`, `rows x cols`; `parameters` = [W (cols x Q), b (Q)]):
///
///     out[0]                  = Σ_i loss_i
///     out[1 + d·Q + q]        = Σ_i x_id ∂loss_i/∂s_iq
///     out[1 + cols·Q + q]     = Σ_i ∂loss_i/∂s_iq
///
/// (`out` has (cols + 1)·Q + 1 doubles, overwritten). Returns `rows` when every label is in the loss's
/// domain, else the index of the first row whose label is not (the sums are then meaningless), or
/// SHARDTRAIN_UNSUPPORTED when the CPU has no AVX2+FMA, for parameters the kernel does not handle (focal γ
/// other than 0, 1, 2) or when scratch memory cannot be allocated: the caller then computes the sums itself.
/// Precision: float64 blocks are computed in double throughout. float32 blocks, like the float32 logistic
/// kernel, round W to float and compute the scores in float lanes; hinge, pinball and focal then run in float
/// lanes throughout (b, τ, μ, α, c rounded to float; loss and slope sums in float within tiles of at most 64
/// rows, added to 4 double lanes per tile); softmax (softmax_avx2.c) rounds b and the class weights to float too
/// and sums its loss and bias terms in float lanes within a tile of at most 64 rows, added to 8 double lanes per
/// tile. Σ_i x_id slope_iq is summed in float lanes within tiles of at most 64 rows (slopes in float), added to
/// double sums per tile. Every summation order depends only on (rows, cols, Q) and, for softmax and pinball, on `vectors`
/// (AVX-512 sums a score's columns and a tile's rows in other groupings than AVX2).
size_t shardtrain_linear_sums_f32(const shardtrain_linear_params *params, const float *x, const float *y, size_t rows,
                                  size_t cols, const double *parameters, double *out);
size_t shardtrain_linear_sums_f64(const shardtrain_linear_params *params, const double *x, const double *y, size_t rows,
                                  size_t cols, const double *parameters, double *out);

/// The constants of one Adam / AdamW update (ShardOptimizers' AdaptiveMoments).
typedef struct {
    double beta1, beta2, first_weight, second_weight, first_correction, second_correction, epsilon, rate, decay;
} shardtrain_adam_step;

/// One Adam / AdamW update of `count` coordinates into new vectors (inputs untouched):
///
///     m = β1·first + (1 − β1)·g,   v = β2·second + (1 − β2)·(g·g)        (first_weight, second_weight)
///     u = (m / first_correction) / (√(v / second_correction) + ε)
///     θ' = θ − rate·(u + decay·θ)   where mask[i] (mask may be NULL: no coordinate decays)
///     θ' = θ − rate·u               elsewhere
///
/// Every operation is correctly rounded and none is fused, so the bits equal the scalar formula's on every
/// CPU. Returns nonzero when any written m, v or θ' is NaN or ±∞.
///
/// Companions of θ' made in the same pass (each output may be NULL): out_rounded[i] = (float)θ'_i (round to
/// nearest), and *out_squares = Σ θ'_i² in eight lanes — lane i mod 8, each lane added in increasing i, then
/// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) — the order of ShardNumerics' LaneSums, so the same bits.
int shardtrain_adam_update_f64(const shardtrain_adam_step *step, const double *gradient, const double *first,
                               const double *second, const double *theta, const _Bool *mask, size_t count,
                               double *out_first, double *out_second, double *out_theta, float *out_rounded,
                               double *out_squares);

/// out[i] = a[i] / c, correctly rounded (the bits of the division), for a normal c > 0: with AVX2+FMA mostly by
/// RN(1/c) and one exact-residual correction, each lane checked and divided when the check fails (the division
/// by 1 − β^t of Adam's pass). Returns 1 when that path ran, 0 when it divided.
int shardtrain_divide_by_constant_f64(const double *a, size_t count, double c, double *out);

/// The gradient of ShardModels' objective from the reduced block sums, entry by entry (`ObjectiveGradient`):
///
///     g_i = s_i · scale,  s_i = a_i (+ b_i),  then g_i += l2 · parameters[i] when regularized
///     a_i = sums[i], or (double)sums_f32[i] when sums is NULL
///     b_i = other[i], or (double)other_f32[i] when other is NULL; no b_i when both are NULL
///
/// each operation correctly rounded, none fused (the pointers start at the first coordinate of the call). The
/// float inputs are a float32 network's block gradients, read as they are rather than widened into doubles
/// first (widening is exact, so the bits are those of the widened sums).
typedef struct {
    const double *sums;
    const double *other;
    const double *parameters;
    double scale, l2;
    int regularized;
    const float *sums_f32;
    const float *other_f32;
} shardtrain_objective_gradient;

/// g_i of `source` for i in [0, count) into out.
void shardtrain_objective_gradient_f64(const shardtrain_objective_gradient *source, size_t count, double *out);

/// `shardtrain_adam_update_f64` with the gradient made from `source` in the same pass, each value in register
/// and stored into out_gradient (the same bits as writing the gradient first and updating from it), and, when
/// out_gradient_squares is not NULL, Σ g_i² over the call's coordinates in out_squares' lane order.
int shardtrain_adam_update_objective_f64(const shardtrain_adam_step *step, const shardtrain_objective_gradient *source,
                                         const double *first, const double *second, const double *theta,
                                         const _Bool *mask, size_t count, double *out_gradient, double *out_first,
                                         double *out_second, double *out_theta, float *out_rounded,
                                         double *out_squares, double *out_gradient_squares);

/// Element-wise passes of the dense networks (dense_layers.c). Every one but tanh gives the same bits on the
/// AVX2 and the portable path (exact operations; column sums add rows in order, each column on its own).
///
///     relu:            v ← v > 0 ? v : 0              (NaN → 0, −0 → +0)
///     relu_backward:   g ← a > 0 ? g : 0
///     column_sums:     sums[c] = ((0 + m[0, c]) + m[1, c]) + …   for a (rows, width) row-major m
///     widen / round:   out[i] = (double) in[i]  /  (float) in[i] (round to nearest even)
///     first_outside_unit: the first i with !(0 <= v[i] <= 1) (NaN included), or count
void shardtrain_relu_f32(float *values, size_t count);
void shardtrain_relu_f64(double *values, size_t count);
void shardtrain_relu_backward_f32(const float *activation, float *gradient, size_t count);
void shardtrain_relu_backward_f64(const double *activation, double *gradient, size_t count);
void shardtrain_column_sums_f32(const float *matrix, size_t rows, size_t width, float *sums);
void shardtrain_column_sums_f64(const double *matrix, size_t rows, size_t width, double *sums);
void shardtrain_widen_f32_to_f64(const float *in, double *out, size_t count);
void shardtrain_round_f64_to_f32(const double *in, float *out, size_t count);
size_t shardtrain_first_outside_unit_f32(const float *values, size_t count);
size_t shardtrain_first_outside_unit_f64(const double *values, size_t count);

/// values[i] ← tanh(values[i]) on the AVX2+FMA path; returns 0 (nothing written) on other CPUs.
///
///     a = min(|x|, 20)        (tanh(20) rounds to 1)
///     m = expm1(−2a) = 2^n·s + (2^n − 1),  s = e^r − 1, −2a = n ln2 + r   (the exp kernel's reduction)
///     tanh(x) = sign(x) · (−m / (2 + m))                                   (NaN stays NaN)
/// No cancellation for small a (m ≈ −2a comes from s directly). Within 3 ulp of libm (measured on 2·10⁷ values,
/// |x| from 2⁻⁴¹ to 2⁵; 93 % below 1 ulp, the largest errors near |x| = 0.5, where m = s/2 − 1/2).
int shardtrain_tanh_f64(double *values, size_t count);

/// The nearest other row of every query row in [first, last) of `rows` (count, width) row-major:
///
///     nearest[i − first] = argmin_{j ≠ i} Σ_k (rows[i, k] − rows[j, k])²    (components added in order, unfused)
///     the first candidate j is taken, a later one only when strictly nearer: the lowest index wins ties
/// `packed` (from `shardtrain_pack_rows4_f64`, or NULL) holds the rows four at a time, component-major
/// (`packed[(g·width + k)·4 + lane] = rows[4g + lane, k]`, zeros past the last row), so the AVX2 path computes
/// four candidates per vector; every distance has the bits of the scalar loop on every path.
void shardtrain_pack_rows4_f64(const double *rows, size_t count, size_t width, double *packed);
void shardtrain_nearest_rows_f64(const double *rows, const double *packed, size_t count, size_t width, size_t first,
                                 size_t last, int64_t *nearest);

#endif
